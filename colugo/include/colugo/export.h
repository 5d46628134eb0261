/*  colugo/export.h: symbol visibility. The library is built with hidden
    visibility; only declarations marked COLUGO_EXPORT are public.
*/
#ifndef COLUGO_EXPORT_H_INCLUDED
#define COLUGO_EXPORT_H_INCLUDED

#if defined(__GNUC__) || defined(__clang__)
#define COLUGO_EXPORT __attribute__ ((visibility ("default")))
#else
#define COLUGO_EXPORT
#endif

#ifdef __cplusplus
#define COLUGO_BEGIN_DECLS extern "C" {
#define COLUGO_END_DECLS }
#else
#define COLUGO_BEGIN_DECLS
#define COLUGO_END_DECLS
#endif

#endif
