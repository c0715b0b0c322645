// SPDX-License-Identifier: MIT
/* The least-recently-used list: order of use, the budget of entries and of bytes, keep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/lru.h"

struct item {
	int id;
	struct lru_node node;
};

/* Evicts as an owner would; returns the ids evicted, in order, as digits. */
static int evict(struct lru *l, size_t keep)
{
	struct lru_node *n;
	int ids = 0;

	while ((n = lru__over(l, keep))) {
		ids = ids * 10 + lru__entry(n, struct item, node)->id;
		lru__unlink(l, n);
		lru__evicted(l);
	}
	return ids;
}

static void test_least_recently_used_goes_first(void **state)
{
	struct item it[5] = {{1}, {2}, {3}, {4}, {5}};
	struct lru l;

	lru__init(&l, 3, 1000);
	for (int i = 0; i < 3; i++)
		lru__insert(&l, &it[i].node, 10);
	assert_null(lru__over(&l, 0));
	lru__touch(&l, &it[0].node); /* order now 1 3 2 */
	lru__insert(&l, &it[3].node, 10);
	assert_int_equal(evict(&l, 1), 2);
	lru__touch(&l, &it[2].node); /* 3 4 1 */
	lru__insert(&l, &it[4].node, 10);
	assert_int_equal(evict(&l, 1), 1);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.bytes, 30);
	assert_int_equal(l.stats[LRU_EVICTIONS], 2);
}

static void test_bytes_budget_and_keep(void **state)
{
	struct item it[3] = {{1}, {2}, {3}};
	struct lru l;

	lru__init(&l, 100, 25);
	lru__insert(&l, &it[0].node, 10);
	lru__insert(&l, &it[1].node, 10);
	assert_null(lru__over(&l, 0));
	lru__insert(&l, &it[2].node, 10);
	assert_int_equal(evict(&l, 0), 1);
	/* one entry larger than the whole budget: kept while it is in use (keep 1) */
	lru__unlink(&l, &it[1].node);
	lru__unlink(&l, &it[2].node);
	lru__insert(&l, &it[0].node, 1000);
	assert_int_equal(evict(&l, 1), 0);
	assert_int_equal(evict(&l, 0), 1);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.bytes, 0);
}

/* Entries leave in time too: the least recently used once its last use is idle or more before
 * the list's clock; a touch renews it. */
static void test_idle_entries_leave_in_order_of_use(void **state)
{
	struct item it[3] = {{1}, {2}, {3}};
	struct lru_node *n;
	struct lru l;
	int ids = 0;

	lru__init(&l, 100, 1000);
	lru__set_now(&l, 100);
	lru__insert(&l, &it[0].node, 10);
	lru__insert(&l, &it[1].node, 10);
	lru__set_now(&l, 130);
	lru__insert(&l, &it[2].node, 10);
	lru__touch(&l, &it[0].node); /* 1 used at 130 now: 2 is the oldest */
	assert_null(lru__idle(&l, 60));
	lru__set_now(&l, 160);
	while ((n = lru__idle(&l, 60))) {
		ids = ids * 10 + lru__entry(n, struct item, node)->id;
		lru__unlink(&l, n);
	}
	assert_int_equal(ids, 2);
	lru__set_now(&l, 190);
	while ((n = lru__idle(&l, 60))) {
		ids = ids * 10 + lru__entry(n, struct item, node)->id;
		lru__unlink(&l, n);
	}
	assert_int_equal(ids, 231); /* 3 then 1: inserted, then touched, at 130 */
	assert_int_equal(l.n, 0);
	assert_null(lru__idle(&l, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_least_recently_used_goes_first),
	    cmocka_unit_test(test_bytes_budget_and_keep),
	    cmocka_unit_test(test_idle_entries_leave_in_order_of_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
