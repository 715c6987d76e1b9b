# unit tests of report/ (issue 20): tuple keys, the store contract (SQLite and Redis: a
# redis-server of the test's own, skipped when not installed), the XML writer.
check_PROGRAMS += tests/unit/report/report_tests
TESTS += tests/unit/report/report_tests
tests_unit_report_report_tests_SOURCES = \
	tests/unit/report/record_test.cpp \
	tests/unit/report/recorder_test.cpp \
	tests/unit/report/redis_server.cpp \
	tests/unit/report/redis_server.h \
	tests/unit/report/redis_store_test.cpp \
	tests/unit/report/store_test.cpp \
	tests/unit/report/xml_test.cpp \
	tests/unit/report/samples.cpp \
	tests/unit/report/samples.h
tests_unit_report_report_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS) $(SQLITE3_CFLAGS) $(XML2_CFLAGS)
tests_unit_report_report_tests_LDADD = $(MW_REPORT_LINK) $(MW_GTEST_LINK)

# Every sample report validated by xmllint against the RFC 9990 schema (Appendix A, in
# ../shared/conformance/dmarc-reporting; MW_CONFORMANCE_DIR overrides). The script runs
# render_reports, which writes one report per sample into a fresh directory.
check_PROGRAMS += tests/unit/report/render_reports
tests_unit_report_render_reports_SOURCES = \
	tests/unit/report/render_reports.cpp \
	tests/unit/report/samples.cpp \
	tests/unit/report/samples.h
tests_unit_report_render_reports_LDADD = $(MW_REPORT_LINK)
TESTS += tests/unit/report/xml_schema_test.sh
EXTRA_DIST += tests/unit/report/xml_schema_test.sh

# dmarc.reports on the command line: `check` never writes the store, `configtest` opens it.
TESTS += tests/unit/report/reports_cli_test.sh
EXTRA_DIST += tests/unit/report/reports_cli_test.sh

# `mailwarden dmarc-report` (report_job.h, delivery.h): names, mailto: URIs, gzip, the size
# split, the mail; external destination checks and whole runs over a ZoneResolver and a
# temporary SqliteStore.
check_PROGRAMS += tests/unit/report/report_job_tests
TESTS += tests/unit/report/report_job_tests
tests_unit_report_report_job_tests_SOURCES = \
	tests/unit/report/delivery_test.cpp \
	tests/unit/report/report_job_test.cpp
tests_unit_report_report_job_tests_CXXFLAGS = $(MW_GTEST_CXXFLAGS) $(ZLIB_CFLAGS)
tests_unit_report_report_job_tests_LDADD = libmw_report_job.a $(MW_DMARC_LINK) $(MW_REPORT_LINK) \
	$(MW_GTEST_LINK)

# The command end to end: records written by record_store, then `mailwarden dmarc-report`
# with --out, --dry-run, two runs in parallel, a failing and a working fake sendmail; every
# gzip extracted and validated against the RFC 9990 schema.
check_PROGRAMS += tests/unit/report/record_store
tests_unit_report_record_store_SOURCES = tests/unit/report/record_store.cpp
tests_unit_report_record_store_LDADD = $(MW_REPORT_LINK)
TESTS += tests/unit/report/dmarc_report_cli_test.sh
EXTRA_DIST += tests/unit/report/dmarc_report_cli_test.sh
