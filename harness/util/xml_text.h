// Text for XML and HTML: escaped, and stripped of what XML 1.0 forbids (most control
// characters, invalid UTF-8), since messages come from torch and pickles, not from us.
#pragma once

#include <string>
#include <string_view>

namespace loadmatrix {

std::string xml_escape(std::string_view text);

} // namespace loadmatrix
