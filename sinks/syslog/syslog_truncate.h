// The body shortening of format_message() and the framing writers (syslog_truncate.cc); safe_cut()
// is declared in syslog_format.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace siem::syslog {

// The body to send when it exceeds `budget`: a CEF line shortened value by value (in `scratch`),
// else the body itself, which the caller cuts at its end.
std::string_view fit_body(std::string_view body, std::size_t budget, bool cef, std::string& scratch);

}  // namespace siem::syslog
