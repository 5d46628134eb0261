/*  test_topic.c: which topic names are accepted. */
#include <colugo.h>
#include <criterion/criterion.h>
#include <string.h>

Test (topic, accepts_printable_utf8)
{
    char long_topic [201];
    memset (long_topic, 'x', 200);
    long_topic [200] = 0;
    const char *good [] = {"pub.topic",
                           "a",
                           "with_underscores_and.dots",
                           "spaces are printable",
                           "caf\xc3\xa9",
                           "\xe6\x97\xa5\xe6\x9c\xac",
                           "\xf0\x9f\x90\x92",
                           long_topic};
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        cr_assert_eq (colugo_topic_check (good [i]), 0, "refused '%s'", good [i]);
}

Test (topic, refuses_the_rest)
{
    char too_long [COLUGO_TOPIC_MAX + 2];
    memset (too_long, 'x', sizeof too_long - 1);
    too_long [sizeof too_long - 1] = 0;
    const char *bad [] = {NULL,
                          "",
                          "tab\t",
                          "\x7f",
                          "\x1b[31m",
                          "\xc2\x85",  //  C1 control, U+0085
                          "\xc3",
                          "\xc3\x28",
                          "\xe0\x80\xaf",
                          "\xc0\xaf",      //  truncated, bad, overlong
                          "\xed\xa0\x80",  //  surrogate
                          "\xf4\x90\x80\x80",
                          "\xff",
                          too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (colugo_topic_check (bad [i]), COLUGO_ETOPIC, "accepted case %zu", i);
}

Test (topic, longest_allowed)
{
    char topic [COLUGO_TOPIC_MAX + 1];
    memset (topic, 'y', COLUGO_TOPIC_MAX);
    topic [COLUGO_TOPIC_MAX] = 0;
    cr_assert_eq (colugo_topic_check (topic), 0);
}
