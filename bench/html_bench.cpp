// bench/html_bench.cpp — what turning a text/html part into body:text costs per message:
// our streaming tokenizer (message::HtmlText, src/message/text.cpp, with its generated
// table of HTML 5's 2,231 named references) against libxml2's HTML push parser driven
// through SAX the same way (text, a line break per block element, href=/src= values,
// <script>/<style> contents dropped). Issue 16 point 4 asked which costs less.
//
//   html_bench [--iterations N] [--benchmark_* flags]
//
// --iterations N: exactly N bodies per benchmark (no estimation rounds), for instruction
// counts under callgrind, which the shared, loaded build machine cannot disturb:
// (Ir at N=101 - Ir at N=1) / 100 is one body (see doc/PERFORMANCE.md).
//
// Bodies (deterministic, built in process; the part's bytes after transfer decoding):
//   4k          the HTML part of bench/lib-bench.sh's 4k.eml: 11 paragraphs with a link
//               each, no references (the common case: what every message pays)
//   newsletter  ~18 KB: a table-layout newsletter with a <style> block, comments, images,
//               and the references such mail uses (&nbsp; &amp; &copy; &rsquo; &eacute;
//               &#8212; &#x2019; ...)
//   obfuscated  ~8 KB: words spelled with references, named (from across the table:
//               &Vopf; &fnof; &period; ...) and numeric: the worst case for the reference
//               path, and the case the full table exists for
// Each iteration feeds one body in 4 KiB chunks (a part arrives from the MIME decoder
// piecewise) and finishes it. Counters: text bytes and URLs produced, so a reader can
// see both produce comparable output (libxml2 2.9 knows only HTML 4's 253 names, so on
// "obfuscated" it leaves most references as they are).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "mailwarden/message/text.h"

#ifdef MW_HAVE_XML2
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#endif

namespace {

constexpr std::size_t kChunk = 4096;

std::string body4k() {
  std::string s = "<html><body>\n";
  for (int i = 1; i <= 11; ++i) {
    char line[200];
    std::snprintf(line, sizeof line,
                  "<p style=\"margin:0\">Line %02d: revenue, costs and the <a "
                  "href=\"https://www.bench.test.example/report/%d\">outlook</a>.</p>\n",
                  i, i);
    s += line;
  }
  s += "</body></html>\n";
  return s;
}

std::string bodyNewsletter() {
  std::string s =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>News &amp; offers</title>"
      "<style>body{margin:0;padding:0} td.c{font:14px/1.4 Arial,sans-serif;color:#333}"
      " a{color:#0057b8}</style></head>\n<body><!-- preheader: hidden text -->\n"
      "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">\n";
  for (int i = 1; i <= 40; ++i) {
    char item[900];
    std::snprintf(
        item, sizeof item,
        "<tr><td class=\"c\" style=\"padding:8px 16px\"><h2>Story %d &ndash; caf&eacute; "
        "&amp; more</h2><img src=\"https://img.news.example/%d.png\" alt=\"\" width=\"80\">"
        "<p>It&rsquo;s the season&#8217;s best offer&nbsp;&mdash; prices from&nbsp;&euro;%d, "
        "&copy;&nbsp;2024 News&trade; Ltd. Fa&ccedil;ade &#x2019;24&hellip; "
        "r&eacute;sum&eacute; &lt;tips&gt; inside.</p><a href=\"https://news.example/r?id=%d"
        "&amp;u=abc&amp;lang=en\">Read&nbsp;more&nbsp;&raquo;</a></td></tr>\n",
        i, i, 10 + i, i);
    s += item;
  }
  s += "</table><p style=\"font-size:11px\">Unsubscribe: <a href=\"https://news.example/u\">"
       "here</a> &middot; &copy; News</p></body></html>\n";
  return s;
}

std::string bodyObfuscated() {
  // Each letter of the words below written as a reference, cycling through forms.
  static const char* const kForms[][3] = {
      {"&Vopf;", "&#86;", "&#x56;"},         {"&iacute;", "&#105;", "&iopf;"},
      {"&aacute;", "&#97;", "&ascr;"},       {"&gopf;", "&#103;", "&#x67;"},
      {"&rscr;", "&#114;", "&#X72;"},        {"&fnof;", "&#102;", "&fopf;"},
      {"&period;", "&#46;", "&#x2e;"},       {"&Oacute;", "&#79;", "&Oopf;"},
      {"&nopf;", "&#110;", "&ntilde;"},      {"&lopf;", "&#108;", "&lscr;"},
      {"&eacute;", "&#101;", "&escr;"},      {"&dopf;", "&#100;", "&dscr;"},
      {"&sopf;", "&#115;", "&sscr;"},        {"&colon;", "&#58;", "&#x3A;"},
  };
  std::string s = "<html><body><div>";
  for (int i = 0; i < 160; ++i) {
    s += "<span>";
    for (int k = 0; k < 6; ++k) s += kForms[(i + k * 5) % 14][(i + k) % 3];
    s += "</span> ";
    if (i % 16 == 15) s += "<br>\n";
  }
  s += "</div></body></html>\n";
  return s;
}

const std::string& body(int which) {
  static const std::string kBodies[] = {body4k(), bodyNewsletter(), bodyObfuscated()};
  return kBodies[which];
}

void setLabel(benchmark::State& state) {
  static const char* const kNames[] = {"4k", "newsletter", "obfuscated"};
  state.SetLabel(std::string(kNames[state.range(0)]) + " " +
                 std::to_string(body(static_cast<int>(state.range(0))).size()) + " B");
}

void BM_HtmlText(benchmark::State& state) {
  const std::string_view in = body(static_cast<int>(state.range(0)));
  std::size_t text_bytes = 0;
  std::size_t urls = 0;
  for (auto _ : state) {
    mw::message::HtmlText h;
    std::string text;
    std::vector<std::string> found;
    for (std::size_t i = 0; i < in.size(); i += kChunk) h.feed(in.substr(i, kChunk), text, found);
    h.finish(text, found);
    benchmark::DoNotOptimize(text.data());
    text_bytes = text.size();
    urls = found.size();
  }
  state.counters["text_bytes"] = static_cast<double>(text_bytes);
  state.counters["urls"] = static_cast<double>(urls);
  setLabel(state);
}

#ifdef MW_HAVE_XML2
struct Sink {
  std::string text;
  std::vector<std::string> urls;
};

bool isBlock(const char* tag) {
  static const char* const kBlocks[] = {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3",
                                        "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "hr", "title"};
  for (const char* b : kBlocks) {
    if (std::strcmp(b, tag) == 0) return true;
  }
  return false;
}

void onStart(void* ctx, const xmlChar* name, const xmlChar** atts) {
  auto* sink = static_cast<Sink*>(ctx);
  if (isBlock(reinterpret_cast<const char*>(name))) sink->text.push_back('\n');
  for (const xmlChar** a = atts; a != nullptr && a[0] != nullptr; a += 2) {
    const char* attr = reinterpret_cast<const char*>(a[0]);
    if ((std::strcmp(attr, "href") == 0 || std::strcmp(attr, "src") == 0) && a[1] != nullptr) {
      sink->urls.emplace_back(reinterpret_cast<const char*>(a[1]));
    }
  }
}

void onText(void* ctx, const xmlChar* ch, int len) {
  static_cast<Sink*>(ctx)->text.append(reinterpret_cast<const char*>(ch), static_cast<std::size_t>(len));
}

void onRaw(void*, const xmlChar*, int) {}  // <script>/<style> contents

void BM_Libxml2Html(benchmark::State& state) {
  const std::string_view in = body(static_cast<int>(state.range(0)));
  htmlSAXHandler sax;
  std::memset(&sax, 0, sizeof sax);
  sax.startElement = onStart;
  sax.characters = onText;
  sax.ignorableWhitespace = onText;
  sax.cdataBlock = onRaw;
  std::size_t text_bytes = 0;
  std::size_t urls = 0;
  for (auto _ : state) {
    Sink sink;
    htmlParserCtxtPtr ctxt = htmlCreatePushParserCtxt(&sax, &sink, nullptr, 0, nullptr, XML_CHAR_ENCODING_UTF8);
    htmlCtxtUseOptions(ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    for (std::size_t i = 0; i < in.size(); i += kChunk) {
      const std::string_view c = in.substr(i, kChunk);
      htmlParseChunk(ctxt, c.data(), static_cast<int>(c.size()), 0);
    }
    htmlParseChunk(ctxt, nullptr, 0, 1);
    htmlFreeParserCtxt(ctxt);
    benchmark::DoNotOptimize(sink.text.data());
    text_bytes = sink.text.size();
    urls = sink.urls.size();
  }
  state.counters["text_bytes"] = static_cast<double>(text_bytes);
  state.counters["urls"] = static_cast<double>(urls);
  setLabel(state);
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef MW_HAVE_XML2
  xmlInitParser();
#endif
  long iterations = 0;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = std::strtol(argv[++i], nullptr, 10);
      if (iterations <= 0) {
        std::fprintf(stderr, "--iterations: a positive count\n");
        return 1;
      }
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  std::vector<benchmark::internal::Benchmark*> all = {benchmark::RegisterBenchmark("BM_HtmlText", BM_HtmlText)};
#ifdef MW_HAVE_XML2
  all.push_back(benchmark::RegisterBenchmark("BM_Libxml2Html", BM_Libxml2Html));
#endif
  for (benchmark::internal::Benchmark* b : all) {
    b->DenseRange(0, 2);
    if (iterations > 0) b->Iterations(iterations);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
