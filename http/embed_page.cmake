# Writes the page IN as a C++ string returned by lg::http::cluster_page().
file(READ ${IN} page)
set(delim "LGPAGE")
string(FIND "${page}" ")${delim}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )${delim}\"")
endif()
# MSVC-era limits do not apply to g++; one literal holds the page.
file(WRITE ${OUT} "// Generated from http/cluster_page.html: do not edit.\n"
  "#include <string>\nnamespace lg::http {\n"
  "const std::string& cluster_page() {\n"
  "  static const std::string page = R\"${delim}(${page})${delim}\";\n"
  "  return page;\n}\n} // namespace lg::http\n")
