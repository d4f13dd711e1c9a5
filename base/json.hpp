// Escaping text for a JSON string, the one escaper of the project: trace
// files (one JSON object per line) and the HTML sequence diagrams (JSON
// inside a <script> element) both use it.
#pragma once

#include <string>

namespace lg {

/// Returns `s` escaped for the inside of a JSON string literal: quotes,
/// backslashes and control characters escaped, and '<' written as \u003c so
/// that the text is also safe inside an HTML <script> element.
std::string json_escape(const std::string& s);

} // namespace lg
