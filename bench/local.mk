# bench/: Google Benchmark programs, built and run only by `make bench` (never by `make`
# or `make check`). Method and results: doc/PERFORMANCE.md.
EXTRA_PROGRAMS = bench/spf_bench
bench_spf_bench_SOURCES = bench/spf_bench.cpp tests/support/nsd_server.h
bench_spf_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS) $(UNBOUND_CFLAGS)
bench_spf_bench_LDADD = $(MW_SPF_LINK) $(FMT_LIBS) $(BENCHMARK_LIBS) -lpthread
CLEANFILES += bench/spf_bench
EXTRA_DIST += doc/PERFORMANCE.md

# Extra arguments for the benchmark program, e.g.
#   make bench BENCH_ARGS=--benchmark_filter=ZoneResolver
BENCH_ARGS =

.PHONY: bench
bench: bench/spf_bench$(EXEEXT) bench/rules_bench$(EXEEXT)
	./bench/spf_bench$(EXEEXT) $(BENCH_ARGS)
	./bench/rules_bench$(EXEEXT) $(BENCH_ARGS)

# The rules matcher against one PCRE2 regex at a time (bench/rules_bench.cpp). Without
# libpcre2-8 (configure says so) it measures the matcher alone.
EXTRA_PROGRAMS += bench/rules_bench
bench_rules_bench_SOURCES = bench/rules_bench.cpp
bench_rules_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS) $(HS_CFLAGS) $(PCRE2_CFLAGS)
bench_rules_bench_LDADD = libmw_rules.a libmw_verdict.a libmw_message.a libmw_obs.a libmw_base.a $(YAML_LIBS) \
	$(FMT_LIBS) $(HS_LIBS) $(PCRE2_LIBS) $(BENCHMARK_LIBS) -lpthread
CLEANFILES += bench/rules_bench
