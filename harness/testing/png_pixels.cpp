#include "testing/png_pixels.h"

#include "util/file_contents.h"

#include <cstdlib>
#include <cstring>
#include <fmt/core.h>
#include <zlib.h>

namespace loadmatrix::test_support {

namespace {

uint32_t big_endian(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

uint8_t paeth(int a, int b, int c) {
  int p = a + b - c;
  int pa = std::abs(p - a);
  int pb = std::abs(p - b);
  int pc = std::abs(p - c);
  return static_cast<uint8_t>(pa <= pb && pa <= pc ? a : (pb <= pc ? b : c));
}

} // namespace

Expected<RgbImage> read_png(const std::filesystem::path& file) {
  auto contents = FileContents::open(file);
  if (!contents) {
    return contents.error();
  }
  std::string_view bytes = (*contents)->bytes();
  auto data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < 8 || std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0) {
    return Error{file.string() + ": not a PNG"};
  }
  RgbImage image;
  int channels = 0;
  std::string compressed;
  for (size_t at = 8; at + 12 <= bytes.size();) {
    uint32_t length = big_endian(data + at);
    std::string_view type(bytes.data() + at + 4, 4);
    if (at + 12 + length > bytes.size()) {
      return Error{file.string() + ": truncated chunk"};
    }
    const uint8_t* body = data + at + 8;
    if (type == "IHDR") {
      image.width = big_endian(body);
      image.height = big_endian(body + 4);
      if (body[8] != 8 || (body[9] != 2 && body[9] != 6) || body[12] != 0) {
        return Error{file.string() + ": not 8-bit RGB(A) without interlacing"};
      }
      channels = body[9] == 6 ? 4 : 3;
    } else if (type == "IDAT") {
      compressed.append(reinterpret_cast<const char*>(body), length);
    }
    at += 12 + length;
  }
  size_t stride = static_cast<size_t>(image.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * image.height);
  uLongf size = raw.size();
  if (channels == 0 ||
      uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(compressed.data()),
                 compressed.size()) != Z_OK ||
      size != raw.size()) {
    return Error{file.string() + ": bad image data"};
  }
  std::vector<uint8_t> pixels(stride * image.height);
  for (uint32_t y = 0; y < image.height; ++y) {
    uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* row = &pixels[y * stride];
    const uint8_t* up = y > 0 ? &pixels[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      int a = i >= static_cast<size_t>(channels) ? row[i - channels] : 0;
      int b = up ? up[i] : 0;
      int c = up && i >= static_cast<size_t>(channels) ? up[i - channels] : 0;
      int predictor = filter == 1   ? a
                      : filter == 2 ? b
                      : filter == 3 ? (a + b) / 2
                      : filter == 4 ? paeth(a, b, c)
                                    : 0;
      row[i] = static_cast<uint8_t>(in[i] + predictor);
    }
  }
  image.rgb.resize(static_cast<size_t>(image.width) * image.height * 3);
  for (size_t p = 0; p < static_cast<size_t>(image.width) * image.height; ++p) {
    std::memcpy(&image.rgb[p * 3], &pixels[p * channels], 3);
  }
  return image;
}

size_t count_pixels(const RgbImage& image, uint32_t rgb, uint32_t top, uint32_t bottom,
                    int tolerance) {
  size_t count = 0;
  int want[3] = {static_cast<int>(rgb >> 16 & 0xff), static_cast<int>(rgb >> 8 & 0xff),
                 static_cast<int>(rgb & 0xff)};
  for (uint32_t y = top; y < bottom && y < image.height; ++y) {
    for (uint32_t x = 0; x < image.width; ++x) {
      const uint8_t* p = &image.rgb[(static_cast<size_t>(y) * image.width + x) * 3];
      bool near = true;
      for (int k = 0; k < 3; ++k) {
        near = near && std::abs(p[k] - want[k]) <= tolerance;
      }
      count += near;
    }
  }
  return count;
}

} // namespace loadmatrix::test_support
