noinst_LIBRARIES += libmw_verdict.a
libmw_verdict_a_SOURCES = src/verdict/verdict.cpp
