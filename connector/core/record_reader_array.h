// The reader's part for top-level JSON arrays of records (record_reader.h): the elements of an
// array whose '[' has been read, one by one.
#pragma once

#include <cstddef>
#include <string_view>

#include "connector/core/record_reader.h"

namespace siem::detail {

struct ArrayStep {
  std::size_t pos = 0;  // where reading stopped
  bool wait = false;    // true: more input is needed first (stop and return `pos`)
};

// Reads elements of the array `cursor` is inside of, from text[pos] on, with `line` the line at
// pos (advanced as text is read), until the array closes (cursor.inside becomes false), or the
// text ends (Tail::complete: the array is reported unterminated) or an element is cut (wait).
ArrayStep split_array(std::string_view text, std::size_t pos, std::size_t& line, ArrayCursor& cursor,
                      const RecordReader::RecordFn& on_record, const RecordReader::ErrorFn& on_error,
                      RecordReader::Tail tail, std::size_t max_document);

}  // namespace siem::detail
