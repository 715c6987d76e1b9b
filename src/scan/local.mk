noinst_LIBRARIES += libmw_scan.a
libmw_scan_a_SOURCES = \
	src/scan/builtin_stages.cpp \
	src/scan/builtin_stages.h \
	src/scan/scan.cpp \
	src/scan/snapshot.cpp \
	src/scan/spf_stage.cpp \
	src/scan/dkim_stage.cpp \
	src/scan/arc_stage.cpp \
	src/scan/dmarc_stage.cpp \
	src/scan/rules_stage.cpp \
	src/scan/reputation_stage.cpp \
	src/scan/symbols.cpp \
	src/scan/metrics.cpp \
	src/scan/message_log.cpp
