// tests/unit/report/render_reports.cpp — writes every sample report to DIR/NAME.xml for
// xml_schema_test.sh, which validates them with xmllint against the RFC 9990 schema.
// Usage: render_reports DIR. Exit 0 when every report was written, 1 otherwise.
#include <cstdio>
#include <fstream>

#include "samples.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: render_reports DIR\n");
    return 2;
  }
  int written = 0;
  for (const mw::report::testing::Sample& s : mw::report::testing::samples()) {
    const mw::Result<std::string> xml = mw::report::renderAggregateReport(s.meta, s.rows);
    if (!xml) {
      std::fprintf(stderr, "%s: %s\n", s.name.c_str(), xml.error().describe().c_str());
      return 1;
    }
    std::ofstream out(std::string(argv[1]) + "/" + s.name + ".xml", std::ios::binary);
    out << *xml;
    if (!out.flush()) {
      std::fprintf(stderr, "%s: cannot write\n", s.name.c_str());
      return 1;
    }
    ++written;
  }
  std::printf("%d\n", written);
  return 0;
}
