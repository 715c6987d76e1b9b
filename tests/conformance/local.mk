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

# DMARC: dmarc-vectors.yaml through dmarc/ (vectors RFC 9989 changed are listed, not scored).
check_PROGRAMS += tests/conformance/dmarc_suite
TESTS += tests/conformance/dmarc_suite
tests_conformance_dmarc_suite_SOURCES = tests/conformance/dmarc_suite.cpp tests/conformance/suite_support.h
tests_conformance_dmarc_suite_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_CONFORMANCE_DEFAULT_DIR='"$(abs_top_srcdir)/../shared/conformance/dmarc"' \
	-DMW_DMARC_FLOOR_FILE='"$(abs_top_srcdir)/tests/conformance/dmarc-floor.txt"' \
	-DMW_DMARC_POLICY_VECTORS='"$(abs_top_srcdir)/tests/conformance/dmarc-policy-vectors.yaml"'
tests_conformance_dmarc_suite_LDADD = $(MW_DMARC_LINK) $(YAML_LIBS)
# Our policy discovery vectors (RFC 9989 §4.10.1) and the script that writes them.
EXTRA_DIST += tests/conformance/dmarc-floor.txt tests/conformance/dmarc-policy-vectors.yaml \
	tests/conformance/dmarc_policy_vectors.py

# DKIM: the Mail::DKIM corpus, RFC 8463 A.3 and dkimpy's data through dkim/
# (dkim_suite.cpp says how each is scored).
check_PROGRAMS += tests/conformance/dkim_suite
TESTS += tests/conformance/dkim_suite
tests_conformance_dkim_suite_SOURCES = tests/conformance/dkim_suite.cpp tests/conformance/suite_support.h \
	tests/support/lsan_opendkim.cpp
tests_conformance_dkim_suite_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_CONFORMANCE_DEFAULT_DIR='"$(abs_top_srcdir)/../shared/conformance/dkim"' \
	-DMW_DKIM_FLOOR_FILE='"$(abs_top_srcdir)/tests/conformance/dkim-floor.txt"'
tests_conformance_dkim_suite_LDADD = $(MW_DKIM_LINK) $(YAML_LIBS)
EXTRA_DIST += tests/conformance/dkim-floor.txt

# ARC: the ValiMail validation suite and Mail::DKIM's variant through arc/ (arc_suite.cpp).
check_PROGRAMS += tests/conformance/arc_suite
TESTS += tests/conformance/arc_suite
tests_conformance_arc_suite_SOURCES = tests/conformance/arc_suite.cpp tests/conformance/suite_support.h
tests_conformance_arc_suite_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_CONFORMANCE_DEFAULT_DIR='"$(abs_top_srcdir)/../shared/conformance/arc"' \
	-DMW_ARC_FLOOR_FILE='"$(abs_top_srcdir)/tests/conformance/arc-floor.txt"'
tests_conformance_arc_suite_LDADD = $(MW_ARC_LINK) $(YAML_LIBS)
EXTRA_DIST += tests/conformance/arc-floor.txt

# ARC signing: the ValiMail signing suite and Mail::DKIM's variant through arc::Sealer
# (arc_sign_suite.cpp says what a pass is).
check_PROGRAMS += tests/conformance/arc_sign_suite
TESTS += tests/conformance/arc_sign_suite
tests_conformance_arc_sign_suite_SOURCES = tests/conformance/arc_sign_suite.cpp tests/conformance/suite_support.h
tests_conformance_arc_sign_suite_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_CONFORMANCE_DEFAULT_DIR='"$(abs_top_srcdir)/../shared/conformance/arc"' \
	-DMW_ARC_SIGN_FLOOR_FILE='"$(abs_top_srcdir)/tests/conformance/arc-sign-floor.txt"'
tests_conformance_arc_sign_suite_LDADD = $(MW_ARC_LINK) $(YAML_LIBS)
EXTRA_DIST += tests/conformance/arc-sign-floor.txt
