#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""KUnit results of a kernel console log, parsed by the kernel's own
tools/testing/kunit/kunit.py parse.

A module's suites print a top-level KTAP document at each load (and a
built-in "1..0" one at boot); kunit.py parse reads one document, so each
non-empty one goes to it separately, and its JSON results come out as one
line per test case: "pass|fail|skip SUITE.CASE".

Usage: scripts/kunit_results.py KERNEL_SOURCE CONSOLE_LOG
"""
import json
import os
import re
import subprocess
import sys
import tempfile

STAMP = re.compile(r'^\[ *[0-9.]+\] ')


def documents(lines):
    """The top-level KTAP documents of the log, each a list of lines."""
    doc = None
    for line in lines:
        body = STAMP.sub('', line, count=1)
        if body in ('KTAP version 1', 'TAP version 14'):
            if doc:
                yield doc
            doc = []
        if doc is not None:
            doc.append(line)
    if doc:
        yield doc


def cases(group, suite=None):
    """(status, suite.case) of every test case under a kunit.py JSON group."""
    name = group.get('name') or suite
    for case in group.get('test_cases', []):
        status = {'PASS': 'pass', 'SKIP': 'skip', 'SKIPPED': 'skip'}.get(case['status'], 'fail')
        yield status, f"{name}.{case['name']}"
    for sub in group.get('sub_groups', []):
        yield from cases(sub, name)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    kunit = os.path.join(sys.argv[1], 'tools/testing/kunit/kunit.py')
    with open(sys.argv[2], encoding='utf-8', errors='replace') as f:
        lines = [l.rstrip('\r\n') for l in f]
    with tempfile.TemporaryDirectory() as tmp:
        for i, doc in enumerate(documents(lines)):
            if len(doc) > 1 and STAMP.sub('', doc[1], count=1) == '1..0':
                continue
            log, out = os.path.join(tmp, f'{i}.log'), os.path.join(tmp, f'{i}.json')
            with open(log, 'w', encoding='utf-8') as f:
                f.write('\n'.join(doc) + '\n')
            subprocess.run([sys.executable, kunit, 'parse', f'--json={out}', log],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            with open(out, encoding='utf-8') as f:
                for status, name in cases(json.load(f)):
                    print(status, name)


if __name__ == '__main__':
    main()
