check_PROGRAMS += tests/unit/scan/scan_tests
TESTS += tests/unit/scan/scan_tests
tests_unit_scan_scan_tests_SOURCES = tests/unit/scan/scan_test.cpp \
	tests/unit/scan/dkim_stage_test.cpp tests/unit/scan/symbols_test.cpp \
	tests/unit/scan/reputation_stage_test.cpp tests/unit/scan/arc_stage_test.cpp \
	tests/unit/scan/arc_seal_test.cpp tests/unit/scan/bypass_test.cpp \
	tests/support/lsan_opendkim.cpp
tests_unit_scan_scan_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_TEST_KEYS_DIR='"$(abs_top_srcdir)/tests/keys"' \
	-DMW_GOLDEN_DIR='"$(abs_top_srcdir)/tests/golden/dmarc"'
tests_unit_scan_scan_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_scan_scan_tests_LDADD = $(MW_CORE_LINK) $(MW_GTEST_LINK)

# Allocation faults at every allocation of every event (tests/support/alloc_fault.cpp
# replaces operator new in this binary only).
check_PROGRAMS += tests/unit/scan/scan_fault_tests
TESTS += tests/unit/scan/scan_fault_tests
tests_unit_scan_scan_fault_tests_SOURCES = tests/unit/scan/fault_test.cpp \
	tests/support/alloc_fault.cpp tests/support/alloc_fault.h tests/support/lsan_opendkim.cpp
tests_unit_scan_scan_fault_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-DMW_RULES_DIR='"$(abs_top_srcdir)/rules"'
tests_unit_scan_scan_fault_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_scan_scan_fault_tests_LDADD = $(MW_CORE_LINK) $(MW_GTEST_LINK)

# The per-message log line (scan/message_log.h, issue 19).
check_PROGRAMS += tests/unit/scan/message_log_tests
TESTS += tests/unit/scan/message_log_tests
tests_unit_scan_message_log_tests_SOURCES = tests/unit/scan/message_log_test.cpp \
	tests/support/lsan_opendkim.cpp
tests_unit_scan_message_log_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS)
tests_unit_scan_message_log_tests_LDADD = $(MW_CORE_LINK) $(MW_GTEST_LINK)

# dmarc.reports through Scan (issue 20): what reaches the report store, and what not.
check_PROGRAMS += tests/unit/scan/dmarc_report_tests
TESTS += tests/unit/scan/dmarc_report_tests
tests_unit_scan_dmarc_report_tests_SOURCES = tests/unit/scan/dmarc_report_test.cpp \
	tests/support/lsan_opendkim.cpp
tests_unit_scan_dmarc_report_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS) $(SQLITE3_CFLAGS)
tests_unit_scan_dmarc_report_tests_LDADD = $(MW_CORE_LINK) $(MW_GTEST_LINK)
