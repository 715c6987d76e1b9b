# report/: DMARC aggregate reports (RFC 9990, issue 20) — the per-message Record, the Store
# (SQLite) that aggregates them, and the XML report document.
# Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_report.a
libmw_report_a_SOURCES = \
	src/report/delivery.cpp \
	src/report/open_store.cpp \
	src/report/record.cpp \
	src/report/recorder.cpp \
	src/report/redis_store.cpp \
	src/report/redis_url.cpp \
	src/report/sqlite_store.cpp \
	src/report/xml.cpp
libmw_report_a_CXXFLAGS = $(AM_CXXFLAGS) $(SQLITE3_CFLAGS) $(HIREDIS_CFLAGS) $(XML2_CFLAGS) $(ZLIB_CFLAGS)
# What a program using libmw_report.a links after it.
MW_REPORT_LINK = libmw_report.a libmw_base.a $(SQLITE3_LIBS) $(HIREDIS_LIBS) $(XML2_LIBS) $(ZLIB_LIBS) -lpthread

# The `mailwarden dmarc-report` job (report_job.h): DNS (the rua of _dmarc.DOMAIN, RFC 9990
# external destination checks through dmarc/'s parser and Organizational Domains) and
# delivery. Its own library because it sits above dmarc/ and dns/, which libmw_report.a
# sits below (the DMARC stage feeds the recorder): programs link it before MW_CORE_LIBS.
noinst_LIBRARIES += libmw_report_job.a
libmw_report_job_a_SOURCES = src/report/report_job.cpp
