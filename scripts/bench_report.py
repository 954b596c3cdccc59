#!/usr/bin/env python3
"""Turn the guest's benchmark lines into bench/results.json, results.md and
plot.svg. Usage: bench_report.py GUEST_OUTPUT OUTDIR [ICOUNT_OUTPUT] | --self-test

ICOUNT_OUTPUT: the write-path lines of a boot under -icount shift=0,sleep=off,
where a guest nanosecond is one instruction executed: deterministic.

Lines (from bench/rrelay_bench.c and tests/guest/bench/bench.sh):
  info kernel|accel|cpus ...
  write <cpus> <impl> <size> <round> <cpu> <picoseconds per record>
  switch <rrelay_write|relay_write> <round> <picoseconds per record>   (4 KiB records, 4 KiB sub-buffers)
  setup <impl> <open|close> <round> <nanoseconds>
  drain <impl> <mode> <rate> <bytes received> <seconds> <bytes written>
  lossless <percent> drain ...
  prefill <impl> <mode> <bytes received> <seconds>   (a prefilled buffer, producer stopped)
"""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

IMPLS = ["rrelay_write", "__rrelay_write", "rrelay_reserve",
         "relay_write", "__relay_write", "relay_reserve",
         "ftrace_write", "ftrace_reserve", "memcpy"]
PAIRS = [("rrelay_write", "relay_write"), ("__rrelay_write", "__relay_write"),
         ("rrelay_reserve", "relay_reserve"), ("rrelay_write", "ftrace_write"),
         ("rrelay_reserve", "ftrace_reserve"), ("rrelay_write", "memcpy")]
PAIR_NAMES = ["write / relay", "__write / relay", "reserve / relay", "write / ftrace",
              "reserve / ftrace", "write / memcpy"]
ICOUNT_NOTE = ("Under `-icount shift=0,sleep=off` a guest nanosecond is one instruction "
               "executed, so these are instructions per record: deterministic, the ratios "
               "repeat run after run. rrelay_reserve is reserve + memcpy + commit; "
               "relay_reserve is reserve + memcpy; ftrace_reserve is "
               "ring_buffer_lock_reserve + memcpy + ring_buffer_unlock_commit.")
NOTE = ("Measured under QEMU TCG (software emulation): absolute times mean "
        "little; only ratios between implementations in the same run do.")


def parse(lines):
    meta, write, setup, drain, lossless = {}, defaultdict(list), defaultdict(list), [], []
    prefill, switch = [], defaultdict(list)
    for line in lines:
        w = line.split()
        if not w:
            continue
        if w[0] == "info" and len(w) >= 3:
            if w[1] == "cpus":  # "info cpus N rounds R batch_bytes B ..."
                meta.update(zip(w[1::2], w[2::2]))
            else:
                meta[w[1]] = " ".join(w[2:])
        elif w[0] == "write" and len(w) == 7:
            write[(int(w[1]), w[2], int(w[3]))].append(int(w[6]) / 1000.0)
        elif w[0] == "switch" and len(w) == 4:
            switch[w[1]].append(int(w[3]) / 1000.0)
        elif w[0] == "setup" and len(w) == 5:
            setup[(w[1], w[2])].append(int(w[4]) / 1e6)
        elif w[0] == "drain" and len(w) == 7:
            drain.append(drain_row(w))
        elif w[0] == "lossless" and len(w) == 9:
            row = drain_row(w[2:])
            row["percent"] = int(w[1])
            lossless.append(row)
        elif w[0] == "prefill" and len(w) in (5, 6):
            received, seconds = int(w[3] or 0), float(w[4] or 0)
            prefill.append({"impl": w[1], "mode": w[2], "received": received, "seconds": seconds,
                            "setup_seconds": float(w[5]) if len(w) == 6 else 0.0,
                            "mb_s": received / 1e6 / seconds if seconds else 0.0})
    meta["prefill"] = median_runs(prefill)
    meta["switch"] = {k: statistics.median(v) for k, v in switch.items()}
    return meta, write, setup, drain, lossless


def median_runs(runs):
    """One entry per (impl, mode): the run of median drain time, with the
    median set-up time and the number of runs."""
    groups = defaultdict(list)
    for d in runs:
        groups[(d["impl"], d["mode"])].append(d)
    out = []
    for group in groups.values():
        by_rate = sorted(group, key=lambda d: d["seconds"] / d["received"] if d["received"] else 0.0)
        d = dict(by_rate[(len(by_rate) - 1) // 2])
        d["setup_seconds"] = statistics.median(x["setup_seconds"] for x in group)
        d["runs"] = len(group)
        out.append(d)
    return out


def switch_table(meta, imeta):
    """rrelay_write against relay_write when every record switches sub-buffers."""
    rows = [(name, m.get("switch", {})) for name, m in (("instructions (icount)", imeta or {}),
                                                        ("ns (TCG)", meta))]
    rows = [(name, sw) for name, sw in rows if "rrelay_write" in sw and "relay_write" in sw]
    if not rows:
        return []
    md = ["## Sub-buffer switch: 4 KiB records into 4 KiB sub-buffers (one CPU)", "",
          "Every record finishes a sub-buffer and starts the next, so this is the cost of the "
          "switch (with its `subbuf_start` callback) plus a 4 KiB copy.", "",
          "| per record | rrelay_write | relay_write | ratio |", "|---|---:|---:|---:|"]
    for name, sw in rows:
        r, k = sw["rrelay_write"], sw["relay_write"]
        md.append(f"| {name} | {r:.1f} | {k:.1f} | {r / k:.2f} |")
    return md + [""]


def drain_row(w):
    received, seconds, written = int(w[4] or 0), float(w[5] or 0), int(w[6] or 0)
    return {"impl": w[1], "mode": w[2], "rate_per_cpu": int(w[3]), "received": received,
            "seconds": seconds, "written": written,
            "mb_s": received / 1e6 / seconds if seconds else 0.0,
            "lost": max(written - received, 0)}


def summarize(write):
    rows = []
    for (cpus, impl, size), ns in sorted(write.items()):
        med = statistics.median(ns)
        rows.append({"cpus": cpus, "impl": impl, "size": size, "samples": len(ns),
                     "median_ns": round(med, 2), "min_ns": round(min(ns), 2),
                     "max_ns": round(max(ns), 2),
                     "mb_s": round(size / med * 1e3, 1) if med else 0.0})
    return rows


def ratios(rows):
    med = {(r["cpus"], r["impl"], r["size"]): r["median_ns"] for r in rows}
    out = []
    for (cpus, impl, size), v in sorted(med.items()):
        for mine, theirs in PAIRS:
            if impl == mine and (cpus, theirs, size) in med and med[(cpus, theirs, size)]:
                out.append({"cpus": cpus, "size": size, "rrelay": mine, "vs": theirs,
                            "ratio": round(v / med[(cpus, theirs, size)], 3)})
    return out


def write_tables(rows, rat, unit):
    md = []
    med = {(r["cpus"], r["impl"], r["size"]): r for r in rows}
    sizes = sorted({r["size"] for r in rows})
    for cpus in sorted({r["cpus"] for r in rows}):
        md += [f"### {'one CPU' if cpus == 1 else f'{cpus} CPUs at once'}", "",
               f"{unit} per record (median), then ratios (below 1: rrelay costs less)", "",
               "| size | " + " | ".join(IMPLS) + " | " + " | ".join(PAIR_NAMES) + " |",
               "|---:|" + "---:|" * (len(IMPLS) + len(PAIRS))]
        for size in sizes:
            cells = [f"{med[(cpus, i, size)]['median_ns']:.1f}" if (cpus, i, size) in med else "-" for i in IMPLS]
            rs = {(x["rrelay"], x["vs"]): x["ratio"] for x in rat if x["cpus"] == cpus and x["size"] == size}
            rcells = [f"{rs[p]:.2f}" if p in rs else "-" for p in PAIRS]
            md.append(f"| {size} | " + " | ".join(cells) + " | " + " | ".join(rcells) + " |")
        md.append("")
    return md


def prefill_table(meta, icount_meta):
    """The prefilled drains: MB/s under TCG, instructions per KiB under icount."""
    timed = {(d["impl"], d["mode"]): d for d in meta.get("prefill", [])}
    counted = {(d["impl"], d["mode"]): d for d in (icount_meta or {}).get("prefill", [])}
    if not timed and not counted:
        return []

    def per_kib(d):
        return d["seconds"] * 1e9 / (d["received"] / 1024) if d and d["received"] else 0.0

    def base(table, mode):
        if mode.startswith("loop-"):
            return table.get(("relay", mode))
        return table.get(("relay", "read-null" if mode.endswith("-null") else "read"))

    runs = max([d.get("runs", 1) for d in list(timed.values()) + list(counted.values())])
    md = ["## Drain of a prefilled 16 MiB buffer, producer stopped", "",
          "The reader alone: a global buffer filled to the brim and flushed before the "
          "reader starts (`rrelay record --drain`). Instructions per KiB come from the "
          "icount boot (a guest nanosecond is an instruction). Into a tmpfs file, then "
          "(`-null`) as one stream into /dev/null: the reader's own cost, without the "
          "file system's (its ratios are against relay's `read-null`). Last, `loop-256k` and "
          "`loop-64k`: a bare `read()` loop (`tests/progs/read_loop.c`, no tool, nothing "
          "written) in 256 or 64 KiB calls, against relay's same loop. "
          f"Each figure is the median of {runs} runs, the modes interleaved (a drain's "
          "count moves by a few percent with the page cache the runs before it left). "
          "The drain is timed from the open file; the set-up before it (open, and for "
          "mmap the mapping of all 16 MiB) is the last column, in thousands of "
          "instructions.", "",
          "| channel | reader | MB/s (TCG) | vs relay read() | instructions per KiB (icount) "
          "| vs relay read() | set-up (icount, k instr.) |",
          "|---|---|---:|---:|---:|---:|---:|"]
    for key in sorted(set(timed) | set(counted),
                      key=lambda k: (k[1].startswith("loop-"), k[1].endswith("-null"),
                                     k[0] != "relay", k[1])):
        t, c = timed.get(key), counted.get(key)
        base_t, base_c = base(timed, key[1]), base(counted, key[1])
        md.append(f"| {key[0]} | {key[1]} | "
                  f"{t['mb_s']:.1f} | " if t else f"| {key[0]} | {key[1]} | - | ")
        md[-1] += (f"{t['mb_s'] / base_t['mb_s']:.2f} | " if t and base_t and base_t["mb_s"] else "- | ")
        md[-1] += (f"{per_kib(c):.0f} | " if c else "- | ")
        md[-1] += (f"{per_kib(c) / per_kib(base_c):.2f} | " if c and base_c and per_kib(base_c) else "- | ")
        md[-1] += (f"{c['setup_seconds'] * 1e6:.0f} |" if c else "- |")
    md.append("")
    return md


def markdown(meta, rows, rat, setup, drain, lossless, icount=None, isetup=None):
    md = [f"# rrelay benchmark", "",
          f"Kernel {meta.get('kernel', '?')}, accelerator {meta.get('accel', '?')}, "
          f"{meta.get('cpus', '?')} CPUs, {meta.get('rounds', '?')} rounds. {NOTE}", ""]
    if icount:
        md += ["## Write path, deterministic: instructions per record", "", ICOUNT_NOTE, ""]
        md += write_tables(icount[0], icount[1], "Instructions")
    md += ["## Write path, TCG timing: ns per record", ""]
    md += write_tables(rows, rat, "ns")
    md += switch_table(meta, icount[2] if icount else None)
    md += prefill_table(meta, icount[2] if icount else None)
    if setup:
        # The icount boot's figures beside TCG's: guest milliseconds there
        # are millions of instructions, and repeat where TCG's move with
        # the host's load.
        md += ["## Set-up cost: open and close (median)", "",
               "TCG timing in ms; under icount, millions of instructions (they repeat run after "
               "run where the TCG times move with the host's load).", "",
               "| | rrelay (ms) | relay (ms) | ratio | rrelay (M instr.) | relay (M instr.) | ratio |",
               "|---|---:|---:|---:|---:|---:|---:|"]
        for op in ("open", "close"):
            r, k = setup.get(("rrelay", op)), setup.get(("relay", op))
            if r and k:
                mr, mk = statistics.median(r), statistics.median(k)
                row = f"| {op} | {mr:.2f} | {mk:.2f} | {mr / mk:.2f} |"
                ir, ik = (isetup or {}).get(("rrelay", op)), (isetup or {}).get(("relay", op))
                if ir and ik:
                    mir, mik = statistics.median(ir), statistics.median(ik)
                    row += f" {mir:.2f} | {mik:.2f} | {mir / mik:.2f} |"
                else:
                    row += " - | - | - |"
                md.append(row)
        md.append("")
    if drain:
        base = next((d["mb_s"] for d in drain if d["impl"] == "relay"), 0)
        md += ["## Drain rate with the producer writing as fast as it can", "",
               "Four producer threads on four vCPUs that share two host cores: this measures "
               "the producer as much as the reader (see the prefilled drain above).", "",
               "| channel | reader | MB/s | vs relay read() |", "|---|---|---:|---:|"]
        for d in drain:
            md.append(f"| {d['impl']} | rrelay record -m {d['mode']} | {d['mb_s']:.1f} | "
                      f"{d['mb_s'] / base:.2f} |" if base else f"| {d['impl']} | {d['mode']} | {d['mb_s']:.1f} | - |")
        md.append("")
    if lossless:
        md += ["## No-overwrite mode: producer at a fraction of the splice drain rate", "",
               "The producers run on every CPU but CPU 0, where the reader runs alone; the "
               "rate is a fraction of the splice drain rate the reader kept up beside them "
               "running flat out.", "",
               "| producer rate | MB/s written | lost bytes |", "|---:|---:|---:|"]
        for d in lossless:
            md.append(f"| {d['percent']}% | {d['written'] / 1e6 / d['seconds'] if d['seconds'] else 0:.1f} | {d['lost']} |")
        md.append("")
    return "\n".join(md)


def svg(rows):
    """ns per record by size, log-log, a panel per CPU count."""
    colors = {"rrelay_write": "#d62728", "__rrelay_write": "#ff7f0e", "rrelay_reserve": "#e377c2",
              "relay_write": "#1f77b4", "__relay_write": "#17becf", "relay_reserve": "#9467bd",
              "ftrace_write": "#8c564b", "ftrace_reserve": "#bcbd22", "memcpy": "#2ca02c"}
    import math
    panels = sorted({r["cpus"] for r in rows})
    w, h, pad = 460, 320, 55
    vals = [r["median_ns"] for r in rows if r["median_ns"] > 0] or [1]
    lo, hi = math.log10(min(vals)) - 0.1, math.log10(max(vals)) + 0.1
    sizes = sorted({r["size"] for r in rows}) or [1]
    slo, shi = math.log2(sizes[0]), math.log2(sizes[-1]) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(panels) + 170}" height="{h + 20}" '
           'font-family="sans-serif" font-size="11">', '<rect width="100%" height="100%" fill="white"/>']
    for p, cpus in enumerate(panels):
        x0 = p * w

        def X(size):
            return x0 + pad + (math.log2(size) - slo) / max(shi - slo, 1) * (w - 2 * pad)

        def Y(ns):
            return h - pad + 20 - (math.log10(ns) - lo) / (hi - lo) * (h - 2 * pad)
        out.append(f'<text x="{x0 + w / 2}" y="16" text-anchor="middle" font-size="13">'
                   f'ns per record, {"one CPU" if cpus == 1 else f"{cpus} CPUs at once"}</text>')
        out.append(f'<line x1="{x0 + pad}" y1="{h - pad + 20}" x2="{x0 + w - pad}" y2="{h - pad + 20}" stroke="black"/>')
        out.append(f'<line x1="{x0 + pad}" y1="{pad}" x2="{x0 + pad}" y2="{h - pad + 20}" stroke="black"/>')
        for s in sizes:
            out.append(f'<text x="{X(s)}" y="{h - pad + 35}" text-anchor="middle">{s}</text>')
        for e in range(math.ceil(lo), math.floor(hi) + 1):
            out.append(f'<text x="{x0 + pad - 5}" y="{Y(10 ** e) + 4}" text-anchor="end">{10 ** e}</text>')
            out.append(f'<line x1="{x0 + pad}" y1="{Y(10 ** e)}" x2="{x0 + w - pad}" y2="{Y(10 ** e)}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + w / 2}" y="{h + 12}" text-anchor="middle">record size (bytes)</text>')
        for impl in IMPLS:
            pts = [(X(r["size"]), Y(r["median_ns"])) for r in rows
                   if r["cpus"] == cpus and r["impl"] == impl and r["median_ns"] > 0]
            if pts:
                dash = ' stroke-dasharray="5,3"' if impl.startswith(("relay", "__relay", "ftrace")) else ""
                out.append(f'<polyline fill="none" stroke="{colors[impl]}" stroke-width="2"{dash} points="'
                           + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
    for i, impl in enumerate(IMPLS):
        y = 40 + 18 * i
        lx = w * len(panels) + 10
        out.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 25}" y2="{y}" stroke="{colors[impl]}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 30}" y="{y + 4}">{impl}</text>')
    out.append("</svg>")
    return "\n".join(out)


def report(lines, outdir, icount_lines=None):
    meta, write, setup, drain, lossless = parse(lines)
    rows = summarize(write)
    rat = ratios(rows)
    data = {"meta": {**meta, "note": NOTE}, "write": rows, "ratios": rat,
            "setup_ms": {f"{k[0]} {k[1]}": round(statistics.median(v), 3) for k, v in setup.items()},
            "drain": drain, "lossless": lossless, "switch": meta.get("switch", {})}
    icount = isetup = None
    if icount_lines is not None:
        imeta, iwrite, isetup = parse(icount_lines)[:3]
        irows = summarize(iwrite)
        icount = (irows, ratios(irows), imeta)
        data["icount"] = {"note": ICOUNT_NOTE, "write": irows, "ratios": icount[1],
                          "prefill": imeta.get("prefill", []), "switch": imeta.get("switch", {}),
                          "setup_minstr": {f"{k[0]} {k[1]}": round(statistics.median(v), 3)
                                           for k, v in isetup.items()}}
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    (outdir / "results.md").write_text(markdown(meta, rows, rat, setup, drain, lossless, icount, isetup) + "\n")
    (outdir / "plot.svg").write_text(svg(rows) + "\n")
    return data


def self_test():
    import tempfile
    lines = ["info kernel 7.2.13", "info accel tcg",
             "info cpus 2 rounds 1 batch_bytes 4096 subbuf_size 65536 n_subbufs 8"]
    for cpus in (1, 2):
        for i, impl in enumerate(IMPLS):
            for size in (16, 1024):
                lines.append(f"write {cpus} {impl} {size} 0 0 {(i + 1) * size * 1000}")
    lines += ["setup rrelay open 0 2000000", "setup relay open 0 1000000",
              "drain rrelay splice 0 2000000 2.0 3000000", "drain relay read 0 1000000 2.0 3000000",
              "lossless 80 drain rrelay splice 1000 500000 1.0 500000",
              "prefill relay read 16777216 0.5", "prefill rrelay splice 16777216 0.25 0.001",
              "prefill rrelay splice 16777216 0.75 0.003", "prefill rrelay splice 16777216 0.2 0.002",
              "prefill relay loop-64k 16777216 0.4 0", "prefill rrelay loop-64k 16777216 0.2 0",
              "switch rrelay_write 0 2000000", "switch relay_write 0 1600000",
              "switch rrelay_write 1 2100000", "switch relay_write 1 1600000"]
    with tempfile.TemporaryDirectory() as d:
        ilines = [x for x in lines if x.startswith(("write 1 ", "prefill", "switch"))]
        ilines += ["setup rrelay open 0 3000000", "setup relay open 0 2000000"]
        data = report(lines, Path(d), ilines)
        assert data["icount"]["setup_minstr"] == {"rrelay open": 3.0, "relay open": 2.0}, data
        assert data["icount"]["switch"] == {"rrelay_write": 2050.0, "relay_write": 1600.0}, data
        r = {(x["cpus"], x["rrelay"], x["vs"], x["size"]): x["ratio"] for x in data["ratios"]}
        assert r[(1, "rrelay_write", "relay_write", 16)] == 0.25, r
        assert r[(2, "rrelay_reserve", "relay_reserve", 1024)] == 0.5, r
        assert data["setup_ms"]["rrelay open"] == 2.0
        assert data["drain"][0]["mb_s"] == 1.0 and data["lossless"][0]["lost"] == 0
        md = (Path(d) / "results.md").read_text()
        assert "| 16 |" in md and "0.25" in md and "TCG" in md
        assert "instructions per record" in md and data["icount"]["ratios"], md
        assert "| rrelay | splice | 67.1 | 2.00 | 15259 | 0.50 | 2000 |" in md, md
        assert "median of 3 runs" in md, md
        assert "| rrelay | loop-64k | 83.9 | 2.00 | 12207 | 0.50 | 0 |" in md, md
        assert "| instructions (icount) | 2050.0 | 1600.0 | 1.28 |" in md, md
        assert "| open | 2.00 | 1.00 | 2.00 | 3.00 | 2.00 | 1.50 |" in md, md
        r = {(x["rrelay"], x["vs"], x["size"]): x["ratio"] for x in data["icount"]["ratios"]}
        assert r[("rrelay_write", "ftrace_write", 16)] == round(1 / 7, 3), r
        assert (Path(d) / "plot.svg").read_text().count("<polyline") == 2 * len(IMPLS)
    print("bench_report self-test: ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
    elif len(sys.argv) in (3, 4):
        icount = Path(sys.argv[3]).read_text().splitlines() if len(sys.argv) == 4 else None
        data = report(Path(sys.argv[1]).read_text().splitlines(), Path(sys.argv[2]), icount)
        print((Path(sys.argv[2]) / "results.md").read_text())
    else:
        sys.exit(__doc__)
