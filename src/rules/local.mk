# rules/: content rules (issue 6) — YAML rule files, Hyperscan databases and their disk
# cache, per-message matching and composites. The only folder that includes hs/hs.h.
# Only .cpp files in _SOURCES: `make fuzz` hands this list to clang as is.
noinst_LIBRARIES += libmw_rules.a
libmw_rules_a_SOURCES = \
	src/rules/expr.cpp \
	src/rules/loader.cpp \
	src/rules/compile.cpp \
	src/rules/matcher.cpp \
	src/rules/testcases.cpp
libmw_rules_a_CXXFLAGS = $(AM_CXXFLAGS) $(HS_CFLAGS) $(YAML_CFLAGS)
EXTRA_DIST += src/rules/internal.h
