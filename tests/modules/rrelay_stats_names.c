// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics directory of a channel opened while another channel of the
 * same base name is being closed (src/stats.rs, the view): the closing
 * channel still has <base> until its directory is gone, so the new one must
 * get <base>.N, and keep it. (Before the view kept its names until their
 * directories were removed, 62 of 3000 rounds ended with no statistics
 * for the new channel.)
 *
 * Each round: channel A "rrrev" (files under dir a), then a kthread closes
 * A while this thread opens B "rrrev" (files under dir b: no clash of
 * buffer file names). Once both are done, B alone is open: rrelay/rrrev/
 * stats (or rrrev.1/stats, when A's directory was still there as B chose
 * its name) must exist. Loading prints "rrelay_stats_names: S rrrev.1, M of
 * N rounds", M the rounds where B had neither.
 */
#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <rrelay.h>

static unsigned int rounds = 2000;
module_param(rounds, uint, 0444);

static struct rrelay_chan *closing;
static DECLARE_COMPLETION(go);
static DECLARE_COMPLETION(closed);

static int closer(void *unused)
{
	wait_for_completion(&go);
	rrelay_close(closing);
	complete(&closed);
	return 0;
}

/* Whether rrelay/<name>/stats exists. */
static bool stats_present(const char *name)
{
	struct dentry *root, *dir, *stats = NULL;

	root = debugfs_lookup("rrelay", NULL);
	if (!root)
		return false;
	dir = debugfs_lookup(name, root);
	if (dir) {
		stats = debugfs_lookup("stats", dir);
		dput(dir);
	}
	dput(root);
	if (!stats)
		return false;
	dput(stats);
	return true;
}

static int __init rrelay_stats_names_init(void)
{
	struct dentry *top, *a, *b;
	unsigned int i, missing = 0, suffixed = 0, done = 0;

	top = debugfs_create_dir("rrelay_stats_names", NULL);
	a = debugfs_create_dir("a", top);
	b = debugfs_create_dir("b", top);
	for (i = 0; i < rounds; i++) {
		struct rrelay_chan *chan;
		struct task_struct *t;

		closing = rrelay_open("rrrev", a, 64, 2, NULL, NULL);
		if (!closing)
			break;
		reinit_completion(&go);
		reinit_completion(&closed);
		t = kthread_run(closer, NULL, "rrrev_close");
		if (IS_ERR(t)) {
			rrelay_close(closing);
			break;
		}
		complete(&go);
		chan = rrelay_open("rrrev", b, 64, 2, NULL, NULL);
		wait_for_completion(&closed);
		if (!chan)
			continue;
		done++;
		/*
		 * B alone is open: its view is rrrev, or rrrev.1 if A's
		 * directory was still there when B chose its name.
		 */
		if (stats_present("rrrev.1"))
			suffixed++;
		else if (!stats_present("rrrev"))
			missing++;
		rrelay_close(chan);
	}
	debugfs_remove(top);
	pr_info("rrelay_stats_names: %u rrrev.1, %u of %u rounds\n", suffixed, missing, done);
	return 0;
}

static void __exit rrelay_stats_names_exit(void)
{
}

module_init(rrelay_stats_names_init);
module_exit(rrelay_stats_names_exit);
MODULE_DESCRIPTION("rrelay test: stats directory of a channel opened during a close");
MODULE_LICENSE("GPL");
