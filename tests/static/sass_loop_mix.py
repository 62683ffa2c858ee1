#!/usr/bin/env python3
"""The instruction mix of each kernel's main loop in a cubin's SASS (cuobjdump -sass output).

The main loop of a function is the region [target, branch] of a backward branch holding the
most math instructions (HGMMA, HMMA, else FFMA); among equals, the shortest; joined with every
backward-branch region that starts before it and ends inside it (a rotated loop's conditional
block placed before its head). Instructions predicated on !PT (never executed) are not counted. Prints one line
per function; with --max-ratio, exits 1 when a function's shared-memory loads (LDSM and LDS)
per HMMA in that loop exceed the bound, and with --min-math when the loop holds fewer math
instructions than asked (a loop not found is an error, never a pass).
  sass_loop_mix.py SASS_TXT [--function RE] [--max-ratio R] [--min-math N]"""
import argparse
import re
import sys

INSN = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(@!?U?P[T0-9]+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")
BRANCH = re.compile(r"\bBRA(\.[A-Z.]+)?\s+(`?\(?\.?L?_?[^ ;]*?)?0x([0-9a-f]+)")

KINDS = [
    ("LDSM", lambda op: op.startswith("LDSM")),
    ("LDS", lambda op: op == "LDS" or op.startswith("LDS.")),
    ("HMMA", lambda op: op.startswith("HMMA")),
    ("HGMMA", lambda op: op.startswith("HGMMA")),
    ("LDGSTS", lambda op: op.startswith("LDGSTS")),
    ("UTMALDG", lambda op: op.startswith("UTMALDG")),
    ("FFMA", lambda op: op == "FFMA" or op.startswith("FFMA.")),
    ("BAR", lambda op: op.startswith("BAR.")),
    ("DEPBAR", lambda op: op.startswith("WARPGROUP.DEPBAR") or op.startswith("DEPBAR")),
]


def functions(text):
    """(name, [(addr, opcode, operands)]) per function."""
    out, name, insns = [], None, []
    for line in text.splitlines():
        m = re.search(r"Function : (\S+)", line)
        if m:
            if name:
                out.append((name, insns))
            name, insns = m.group(1), []
            continue
        m = INSN.search(line)
        if m and name and (m.group(2) or "").strip() != "@!PT":
            insns.append((int(m.group(1), 16), m.group(3), m.group(4)))
    if name:
        out.append((name, insns))
    return out


def mix(insns):
    c = {k: 0 for k, _ in KINDS}
    for _, op, _ in insns:
        for k, f in KINDS:
            if f(op):
                c[k] += 1
    c["total"] = len(insns)
    return c


def main_loop(insns):
    regions = []
    for addr, op, args in insns:
        m = re.search(r"0x([0-9a-f]+)", args)
        if op.startswith("BRA") and m and int(m.group(1), 16) <= addr:
            regions.append((int(m.group(1), 16), addr))
    best = None
    for lo, hi in regions:
        c = mix([x for x in insns if lo <= x[0] <= hi])
        key = (c["HGMMA"] or c["HMMA"] or c["FFMA"], -c["total"])
        if best is None or key > best[0]:
            best = (key, lo, hi)
    if best is None:
        return None
    lo, hi = best[1], best[2]
    grown = True
    while grown:
        grown = False
        for a, b in regions:
            if a < lo <= b < hi:
                lo, hi, grown = min(lo, a), max(hi, b), True
    c = mix([x for x in insns if lo <= x[0] <= hi])
    return ((c["HGMMA"] or c["HMMA"] or c["FFMA"], -c["total"]), c, lo, hi)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sass")
    ap.add_argument("--function", default="")
    ap.add_argument("--max-ratio", type=float)
    ap.add_argument("--min-math", type=int, default=1)
    a = ap.parse_args()
    bad = 0
    seen = 0
    for name, insns in functions(open(a.sass).read()):
        if a.function and not re.search(a.function, name):
            continue
        seen += 1
        best = main_loop(insns)
        if best is None:
            print(f"{name}: no loop found")
            bad = 1
            continue
        (math, _), c, lo, hi = best
        loads = c["LDSM"] + c["LDS"]
        ratio = loads / c["HMMA"] if c["HMMA"] else float("nan")
        print(f"{name}: main loop 0x{lo:x}-0x{hi:x}: " +
              " ".join(f"{k}={c[k]}" for k in ["LDSM", "LDS", "HMMA", "HGMMA", "LDGSTS", "UTMALDG",
                                               "FFMA", "BAR", "DEPBAR", "total"]) +
              (f" (LDSM+LDS)/HMMA={ratio:.3f}" if c["HMMA"] else ""))
        if math < a.min_math:
            print(f"{name}: the main loop holds {math} math instructions, fewer than {a.min_math}")
            bad = 1
        if a.max_ratio is not None and not (c["HMMA"] and ratio <= a.max_ratio):
            print(f"{name}: shared-memory loads per HMMA in the main loop {ratio:.3f} "
                  f"({loads} / {c['HMMA']}) exceed {a.max_ratio}")
            bad = 1
    if seen == 0:
        print(f"no function matches '{a.function}'")
        bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
