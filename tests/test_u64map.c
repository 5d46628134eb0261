/*  test_u64map.c: the id map against a plain array, under random churn. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include "u64map.h"

#define KEYS 5000

Test (u64map, random_churn_matches_a_reference)
{
    static void *reference [KEYS + 1];
    colugo__u64map_t map = {0};
    srand (42);
    for (int step = 0; step < 200000; step++) {
        uint64_t key = (uint64_t) (rand () % KEYS) + 1;
        int action = rand () % 3;
        if (action == 0) {
            void *value = (void *) (uintptr_t) (step + 1);
            cr_assert_eq (colugo__u64map_put (&map, key, value), 0);
            reference [key] = value;
        }
        else if (action == 1) {
            cr_assert_eq (colugo__u64map_take (&map, key), reference [key]);
            reference [key] = NULL;
        }
        else
            cr_assert_eq (colugo__u64map_get (&map, key), reference [key]);
    }
    size_t count = 0, expected = 0, cursor = 0;
    while (colugo__u64map_next (&map, &cursor))
        count++;
    for (int key = 1; key <= KEYS; key++)
        expected += reference [key] != NULL;
    cr_assert_eq (count, expected);
    cr_assert_eq (map.size, expected);
    cr_assert_null (colugo__u64map_get (&map, 0));
    colugo__u64map_free (&map);
}
