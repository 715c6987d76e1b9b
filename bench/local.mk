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
bench: bench/spf_bench$(EXEEXT)
	./bench/spf_bench$(EXEEXT) $(BENCH_ARGS)
