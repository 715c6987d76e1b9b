#include "mailwarden/obs/exposition.h"

#include <charconv>
#include <cmath>

namespace mw::obs {

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c; break;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  char buf[64];
  // Shortest text that reads back as the same double ("0.005", "1e+20", "42").
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::labelsOut(const std::vector<Label>& labels, std::string_view le) {
  if (labels.empty() && le.empty()) {
    return;
  }
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) {
      out_ += ',';
    }
    first = false;
    out_ += k;
    out_ += "=\"";
    out_ += escapeLabelValue(v);
    out_ += '"';
  }
  if (!le.empty()) {
    out_ += first ? "le=\"" : ",le=\"";
    out_ += le;
    out_ += '"';
  }
  out_ += '}';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  sample(name, std::vector<Label>(labels), value);
}

void Exposition::sample(std::string_view name, const std::vector<Label>& labels, double value) {
  out_ += name;
  labelsOut(labels, "");
  out_ += ' ';
  out_ += formatValue(value);
  out_ += '\n';
}

void Exposition::histogram(std::string_view name, const std::vector<Label>& labels,
                           const HistogramValues& h) {
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
    out_ += bucket;
    // The last cumulative count is the +Inf bucket (counters.h).
    labelsOut(labels, i < h.bounds.size() ? formatValue(h.bounds[i]) : "+Inf");
    out_ += ' ';
    out_ += std::to_string(h.cumulative[i]);
    out_ += '\n';
  }
  out_ += name;
  out_ += "_sum";
  labelsOut(labels, "");
  out_ += ' ';
  out_ += formatValue(h.sum);
  out_ += '\n';
  out_ += name;
  out_ += "_count";
  labelsOut(labels, "");
  out_ += ' ';
  out_ += std::to_string(h.count());
  out_ += '\n';
}

std::string renderPrometheus() {
  const Counters& c = counters();
  Exposition e;
  auto num = [](std::uint64_t v) { return static_cast<double>(v); };

  e.family("mailwarden_messages_total", "counter",
           "Messages that got a verdict, by action (accept, tag, quarantine, tempfail, reject).");
  e.sample("mailwarden_messages_total", {{"action", "accept"}}, num(c.accepted.get()));
  e.sample("mailwarden_messages_total", {{"action", "tag"}}, num(c.tagged.get()));
  e.sample("mailwarden_messages_total", {{"action", "quarantine"}}, num(c.quarantined.get()));
  e.sample("mailwarden_messages_total", {{"action", "tempfail"}}, num(c.tempfailed.get()));
  e.sample("mailwarden_messages_total", {{"action", "reject"}}, num(c.rejected.get()));

  e.family("mailwarden_connections_total", "counter", "SMTP connections the MTA handed over.");
  e.sample("mailwarden_connections_total", {}, num(c.connections.get()));

  e.family("mailwarden_check_results_total", "counter",
           "Authentication results by check and result (RFC 8601 tokens); DKIM counts each "
           "signature.");
  for (std::size_t m = 0; m < kCheckNames.size(); ++m) {
    for (std::size_t r = 0; r < kResultNames.size(); ++r) {
      e.sample("mailwarden_check_results_total",
               {{"check", kCheckNames[m]}, {"result", kResultNames[r]}},
               num(c.check_results[m][r].get()));
    }
  }

  e.family("mailwarden_bypassed_total", "counter",
           "Messages from our own users (trusted network, SMTP AUTH) that skipped or did not "
           "enforce the checks that judge strangers, by reason.");
  for (std::size_t i = 0; i < kBypassReasonNames.size(); ++i) {
    e.sample("mailwarden_bypassed_total", {{"reason", kBypassReasonNames[i]}},
             num(c.bypassed[i].get()));
  }

  e.family("mailwarden_dmarc_records_total", "counter",
           "DMARC-evaluated messages recorded for aggregate reports (dmarc.reports): "
           "written to the store, spooled in memory (store busy or down), or dropped from a "
           "full spool.");
  for (std::size_t i = 0; i < kDmarcRecordNames.size(); ++i) {
    e.sample("mailwarden_dmarc_records_total", {{"result", kDmarcRecordNames[i]}},
             num(c.dmarc_records[i].get()));
  }

  e.family("mailwarden_list_hits_total", "counter",
           "DNS list lookups that found the key listed, by list zone.");
  c.list_hits.forEach([&](std::string_view zone, const Counter& n) {
    e.sample("mailwarden_list_hits_total", {{"zone", zone}}, num(n.get()));
  });
  e.family("mailwarden_list_errors_total", "counter",
           "DNS list answers that were errors (blocked or failed), not listings.");
  e.sample("mailwarden_list_errors_total", {}, num(c.list_errors.get()));

  e.family("mailwarden_rule_hits_total", "counter",
           "Score contributions by rule id (rules and built-in symbols).");
  c.rule_hits.forEach([&](std::string_view rule, const Counter& n) {
    e.sample("mailwarden_rule_hits_total", {{"rule", rule}}, num(n.get()));
  });

  e.family("mailwarden_dns_queries_total", "counter",
           "DNS lookups by outcome (answer, nxdomain, nodata, temporary, timeout).");
  for (std::size_t i = 0; i < kDnsOutcomeNames.size(); ++i) {
    e.sample("mailwarden_dns_queries_total", {{"outcome", kDnsOutcomeNames[i]}},
             num(c.dns_queries[i].get()));
  }
  e.family("mailwarden_dns_query_duration_seconds", "histogram",
           "DNS lookup time from start to answer, retries included.");
  e.histogram("mailwarden_dns_query_duration_seconds", {}, c.dns_duration.read());

  e.family("mailwarden_stage_duration_seconds", "histogram",
           "Wall time each scan stage spent on one message, all its hooks together.");
  c.stage_duration.forEach([&](std::string_view stage, const Histogram& h) {
    e.histogram("mailwarden_stage_duration_seconds", {{"stage", stage}}, h.read());
  });
  e.family("mailwarden_message_duration_seconds", "histogram",
           "Wall time from MAIL FROM to the verdict, waiting for the client included.");
  e.histogram("mailwarden_message_duration_seconds", {}, c.message_duration.read());

  e.family("mailwarden_messages_in_flight", "gauge",
           "Messages between MAIL FROM and their verdict or abort.");
  e.sample("mailwarden_messages_in_flight", {}, static_cast<double>(c.in_flight.get()));

  e.family("mailwarden_reloads_total", "counter", "Configuration reloads (SIGHUP) by result.");
  e.sample("mailwarden_reloads_total", {{"result", "ok"}}, num(c.reloads.get()));
  e.sample("mailwarden_reloads_total", {{"result", "rejected"}}, num(c.reloads_rejected.get()));
  e.family("mailwarden_config_generation", "gauge",
           "Generation of the running configuration snapshot: 1 at start, higher after each "
           "reload (a rejected reload may use up a number).");
  e.sample("mailwarden_config_generation", {}, static_cast<double>(c.config_generation.get()));

  e.family("mailwarden_tempfails_total", "counter",
           "Messages answered 4xx, by reason (dns, internal, policy, shutdown).");
  for (std::size_t i = 0; i < kTempfailReasonNames.size(); ++i) {
    e.sample("mailwarden_tempfails_total", {{"reason", kTempfailReasonNames[i]}},
             num(c.tempfails[i].get()));
  }
  e.family("mailwarden_limits_hit_total", "counter",
           "Messages that crossed a limits.* bound, by bound.");
  for (std::size_t i = 0; i < kLimitNames.size(); ++i) {
    e.sample("mailwarden_limits_hit_total", {{"limit", kLimitNames[i]}},
             num(c.limit_hits[i].get()));
  }
  e.family("mailwarden_mime_defect_messages_total", "counter",
           "Messages with at least one MIME or header defect.");
  e.sample("mailwarden_mime_defect_messages_total", {}, num(c.mime_defects.get()));
  e.family("mailwarden_forged_authres_total", "counter",
           "Authentication-Results fields claiming our authserv-id, removed.");
  e.sample("mailwarden_forged_authres_total", {}, num(c.forged_authres.get()));
  e.family("mailwarden_internal_errors_total", "counter",
           "Exceptions and library failures turned into the failure policy.");
  e.sample("mailwarden_internal_errors_total", {}, num(c.internal_errors.get()));

  const std::vector<std::pair<std::string, std::string>> info = buildInfo();
  if (!info.empty()) {
    std::vector<Label> labels;
    for (const auto& [k, v] : info) {
      labels.emplace_back(k, v);
    }
    e.family("mailwarden_build_info", "gauge",
             "Always 1; the labels name the version and the libraries it runs with.");
    e.sample("mailwarden_build_info", labels, 1);
  }
  return e.text();
}

}  // namespace mw::obs
