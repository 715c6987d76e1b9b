# bench/: Google Benchmark programs, built and run only by `make bench` (never by `make`
# or `make check`). Method and results: doc/PERFORMANCE.md.
EXTRA_PROGRAMS = bench/spf_bench
bench_spf_bench_SOURCES = bench/spf_bench.cpp tests/support/nsd_server.h
bench_spf_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS) $(UNBOUND_CFLAGS)
bench_spf_bench_LDADD = $(MW_SPF_LINK) $(FMT_LIBS) $(BENCHMARK_LIBS) -lpthread
CLEANFILES += bench/spf_bench
# DKIM verification per message (rsa-sha256 2048, ed25519) and its OpenSSL floor.
EXTRA_PROGRAMS += bench/dkim_bench
bench_dkim_bench_SOURCES = bench/dkim_bench.cpp
bench_dkim_bench_CPPFLAGS = $(AM_CPPFLAGS) -DMW_TEST_KEYS_DIR='"$(abs_top_srcdir)/tests/keys"'
bench_dkim_bench_CXXFLAGS = $(AM_CXXFLAGS) $(BENCHMARK_CFLAGS)
bench_dkim_bench_LDADD = $(MW_DKIM_LINK) $(BENCHMARK_LIBS) -lcrypto -lpthread
CLEANFILES += bench/dkim_bench
EXTRA_DIST += doc/PERFORMANCE.md

# Extra arguments for the benchmark program, e.g.
#   make bench BENCH_ARGS=--benchmark_filter=ZoneResolver
BENCH_ARGS =

.PHONY: bench
bench: bench/spf_bench$(EXEEXT) bench/dkim_bench$(EXEEXT)
	./bench/spf_bench$(EXEEXT) $(BENCH_ARGS)
	./bench/dkim_bench$(EXEEXT) $(BENCH_ARGS)
