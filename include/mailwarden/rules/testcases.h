// rules/testcases.h — `mailwarden rules test`: every rule's `tests:` cases run through
// the same Matcher and MIME parser the milter uses, without DNS (auth symbols come from
// the case's `auth:` list). Thread-compatible; never throws except bad_alloc.
#pragma once

#include <string>
#include <vector>

#include "mailwarden/message/limits.h"
#include "mailwarden/rules/rules.h"

namespace mw::rules {

struct CaseFailure {
  SourceLoc where;      // the case's file:line
  std::string rule_id;
  std::string what;     // "expected hit, got miss", "cannot read cases/x.eml: ..."
};

struct TestSummary {
  std::size_t passed = 0;
  std::size_t failed = 0;
  std::vector<CaseFailure> failures;
};

// The message a case describes: its header lines after a minimal valid header (From,
// To, Date, Message-ID, Subject, each only when the case has none) unless `raw`, an
// empty line, then its body with line ends as CRLF. The .eml of `eml` is read as is.
Result<std::string> caseMessage(const TestCase& tc);

// One message against `rules`, with `symbols` true: which rules hit (building blocks
// included). The default envelope (sender sender@example.org, one recipient, client
// mx.example.org 192.0.2.1) fills fields the case leaves empty.
std::vector<std::string> matchMessage(const RuleSetConstSharedPtr& rules, const message::Limits& limits,
                                      std::string_view message, const message::Envelope& envelope,
                                      const std::vector<std::string>& symbols);

TestSummary runTests(const RuleSetConstSharedPtr& rules, const message::Limits& limits);

}  // namespace mw::rules
