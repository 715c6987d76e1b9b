"""golden_support.py -- what the golden drivers (dmarc_golden.py, logline_golden.py) do
alike: find mailwarden, run every case folder through the driver's run_case, print
"FAIL name: problem" lines and "LABEL golden: N passed, N failed"."""

import os


def case_root(name):
    """tests/golden/NAME under $srcdir (automake runs tests from the build folder)."""
    return os.path.join(os.environ.get("srcdir", "."), "tests", "golden", name)


def run_all(label, root, run_case, skip=()):
    """Runs run_case(binary, root, case, update) for every folder of root but skip;
    run_case returns "" or a problem. Returns the exit status (77: no binary)."""
    binary = os.environ.get("MW_BIN", "./mailwarden")
    if not os.access(binary, os.X_OK):
        print("no mailwarden binary at %s" % binary)
        return 77
    update = os.environ.get("MW_GOLDEN_UPDATE") == "1"
    names = sorted(n for n in os.listdir(root)
                   if os.path.isdir(os.path.join(root, n)) and n not in skip)
    passed = failed = 0
    for name in names:
        problem = run_case(binary, root, name, update)
        if problem:
            failed += 1
            print("FAIL %s: %s" % (name, problem))
        else:
            passed += 1
            if os.environ.get("MW_GOLDEN_VERBOSE") == "1":
                print("ok   %s" % name)
    print("%s golden: %d passed, %d failed" % (label, passed, failed))
    return 1 if failed or passed == 0 else 0
