# report/: DMARC aggregate reports (RFC 9990, issue 20) — the per-message Record, the Store
# (SQLite) that aggregates them, and the XML report document.
# Only .cpp files here: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_report.a
libmw_report_a_SOURCES = \
	src/report/record.cpp \
	src/report/recorder.cpp \
	src/report/redis_store.cpp \
	src/report/redis_url.cpp \
	src/report/sqlite_store.cpp \
	src/report/xml.cpp
libmw_report_a_CXXFLAGS = $(AM_CXXFLAGS) $(SQLITE3_CFLAGS) $(HIREDIS_CFLAGS) $(XML2_CFLAGS)
# What a program using libmw_report.a links after it.
MW_REPORT_LINK = libmw_report.a libmw_base.a $(SQLITE3_LIBS) $(HIREDIS_LIBS) $(XML2_LIBS) -lpthread
