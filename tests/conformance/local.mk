# Conformance drivers over ../shared/conformance (beside the checkout on CI; in a worktree
# /work/shared). MW_CONFORMANCE_DIR overrides the place at run time.
check_PROGRAMS += tests/conformance/spf_suite
TESTS += tests/conformance/spf_suite
tests_conformance_spf_suite_SOURCES = tests/conformance/spf_suite.cpp
tests_conformance_spf_suite_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_CONFORMANCE_DEFAULT_DIR='"$(abs_top_srcdir)/../shared/conformance/spf"' \
	-DMW_SPF_FLOOR_FILE='"$(abs_top_srcdir)/tests/conformance/spf-floor.txt"'
tests_conformance_spf_suite_LDADD = $(MW_SPF_LINK) $(YAML_LIBS)
EXTRA_DIST += tests/conformance/spf-floor.txt
