// Splits a Graph / ARM list page ({"value":[...], "@odata.nextLink": "..."}) into the text slices
// of its records without a recursive parse: one iterative pass that follows strings and brackets
// and measures each record's nesting depth. A record nested deeper than the limit (or larger than
// the record size cap) is handed back with its reason and never parsed; the caller dead-letters it.
// Records keep their original text from the page (no re-serialisation).
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace siem::sources {

struct PageLimits {
  int max_depth = 512;                        // nesting levels, page and record alike
  std::size_t max_record_bytes = 1024 * 1024;  // one record's text
};

struct PageRecord {
  std::string_view text;  // the record as it appears in the page
  std::string error;      // non-empty: why it cannot be used (too deep, too large); text is not parsed
};

struct Page {
  std::vector<PageRecord> records;
  std::optional<std::string> next_link;   // @odata.nextLink (Graph) or nextLink (ARM)
  std::optional<std::string> delta_link;  // @odata.deltaLink
};

// The page is not a JSON object with a "value" array, is nested deeper than the limit outside the
// records, or is cut short.
class PageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `body` must outlive the returned slices. Throws PageError.
Page split_page(std::string_view body, const PageLimits& limits = {});

}  // namespace siem::sources
