// SPDX-License-Identifier: GPL-2.0
/*
 * Failure injection for the test runner's own tests: loading this module
 * with kunit_fail=1 makes a KUnit case fail, with warn=1 it hits a WARN_ON,
 * with leak=1 it leaks one allocation. Loaded with none of them, it does
 * nothing wrong and its one case passes.
 */
#include <kunit/test.h>
#include <linux/module.h>
#include <linux/slab.h>

static bool kunit_fail;
module_param(kunit_fail, bool, 0444);
MODULE_PARM_DESC(kunit_fail, "Make the KUnit case fail");

static bool warn;
module_param(warn, bool, 0444);
MODULE_PARM_DESC(warn, "Hit a WARN_ON at load");

static bool leak;
module_param(leak, bool, 0444);
MODULE_PARM_DESC(leak, "Leak allocations at load");

#define LEAKS 64

/*
 * Out of line, in .text: the allocations' backtraces name this module.
 * SLUB keeps its free-list link inside free objects, so the object
 * allocated just before a leaked one usually still holds a pointer to it,
 * and kmemleak counts that as a reference. So each leaked object comes
 * right after a decoy from the same cache that is wiped and freed.
 */
/*
 * The allocator's frames below ours leave copies of the pointers on this
 * task's stack, which kmemleak scans: overwrite them.
 */
static noinline void rrelay_inject_scrub_stack(void)
{
	u8 scratch[1024];
	u8 *p = scratch;

	memset(scratch, 0, sizeof(scratch));
	/* The stores must happen: the array is used, as far as the compiler knows. */
	OPTIMIZER_HIDE_VAR(p);
	barrier_data(p);
}

static noinline int rrelay_inject_leak(void)
{
	int i;

	for (i = 0; i < LEAKS; i++) {
		size_t size = 128 << (i % 4);
		u8 *decoy = kmalloc(size, GFP_KERNEL);
		u8 *p = kmalloc(size, GFP_KERNEL);

		if (decoy)
			memset(decoy, 0, size);
		kfree(decoy);
		if (!p)
			return -ENOMEM;
		memset(p, 0x5a, size);
		/* Kept from the optimiser, and stored nowhere. */
		OPTIMIZER_HIDE_VAR(p);
	}
	rrelay_inject_scrub_stack();
	return 0;
}

/* Writing anything to the leak_now parameter leaks again, after load. */
static int leak_now_set(const char *val, const struct kernel_param *kp)
{
	return rrelay_inject_leak();
}

static const struct kernel_param_ops leak_now_ops = {
	.set = leak_now_set,
};

module_param_cb(leak_now, &leak_now_ops, NULL, 0200);
MODULE_PARM_DESC(leak_now, "Write to leak allocations now");

static void rrelay_inject_case(struct kunit *test)
{
	KUNIT_EXPECT_FALSE_MSG(test, kunit_fail, "failure injected on purpose");
}

static struct kunit_case rrelay_inject_cases[] = {
	KUNIT_CASE(rrelay_inject_case),
	{}
};

static struct kunit_suite rrelay_inject_suite = {
	.name = "rrelay_inject",
	.test_cases = rrelay_inject_cases,
};

kunit_test_suite(rrelay_inject_suite);

static int __init rrelay_inject_init(void)
{
	WARN_ON(warn);
	return leak ? rrelay_inject_leak() : 0;
}
module_init(rrelay_inject_init);

static void __exit rrelay_inject_exit(void)
{
}
module_exit(rrelay_inject_exit);

MODULE_DESCRIPTION("rrelay test runner failure injection");
MODULE_LICENSE("GPL");
