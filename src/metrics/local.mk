# metrics/: the Prometheus endpoint over libmicrohttpd (issue 19). The registry and the
# exposition format are obs/'s; this module only serves them, so it sits beside milter/.
noinst_LIBRARIES += libmw_metrics.a
libmw_metrics_a_SOURCES = src/metrics/server.cpp
libmw_metrics_a_CXXFLAGS = $(AM_CXXFLAGS) $(MHD_CFLAGS) $(HS_CFLAGS) $(OPENDKIM_CFLAGS) \
	$(CRYPTO_CFLAGS)
EXTRA_DIST += contrib/grafana/mailwarden-dashboard.json contrib/prometheus/mailwarden-alerts.yml \
	doc/OPERATIONS.md
