// flow::text — the string operations of text_operation nodes and expression methods, with the
// results Go's strings package gives for ASCII and Latin-1 text (other characters pass through
// unchanged). Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace flow::text {

std::string upper(std::string_view s);
std::string lower(std::string_view s);
// Lower-cases, then capitalises the first letter of every word ("hello world-foo" ->
// "Hello World-Foo"; apostrophes, dots and underscores inside a word do not start a new one).
std::string title(std::string_view s);
// First whitespace-separated word lower-cased, later words capitalised, joined.
std::string camel(std::string_view s);
// Swaps the case of every letter.
std::string inverse(std::string_view s);
// strings.TrimSpace.
std::string trim_space(std::string_view s);
// strings.ReplaceAll (an empty `from` inserts `to` around every character).
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// strings.Split (an empty separator splits into characters).
std::vector<std::string> go_split(std::string_view s, std::string_view sep);
// strings.Fields.
std::vector<std::string> fields(std::string_view s);

}  // namespace flow::text
