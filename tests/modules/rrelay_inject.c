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
MODULE_PARM_DESC(leak, "Leak one allocation at load");

/*
 * Only a scrambled copy of the leaked pointer is kept: it keeps the
 * allocation from being optimised away, and kmemleak cannot take it for a
 * reference.
 */
static unsigned long leak_cookie;

/* Out of line, in .text: the allocation's backtrace names this module. */
static noinline int rrelay_inject_leak(void)
{
	u8 *p = kmalloc(128, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	memset(p, 0x5a, 128);
	WRITE_ONCE(leak_cookie, (unsigned long)p ^ 0x5a5a5a5a5a5a5a5aUL);
	return 0;
}

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
