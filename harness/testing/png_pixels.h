// The pixels of a PNG a test produced (a headless Chromium screenshot), to check what a reviewer
// would see: 8-bit RGB or RGBA, not interlaced, as Chromium writes them.
#pragma once

#include "util/error.h"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace loadmatrix::test_support {

struct RgbImage {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> rgb; // row-major, 3 bytes per pixel
};

Expected<RgbImage> read_png(const std::filesystem::path& file);

// Pixels in rows [top, bottom) within `tolerance` of `rgb` (0xRRGGBB) on every channel.
size_t count_pixels(const RgbImage& image, uint32_t rgb, uint32_t top, uint32_t bottom,
                    int tolerance = 12);

} // namespace loadmatrix::test_support
