#include "bench/probes.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

namespace lg::bench {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

} // namespace

double memcpy_mb_per_s(size_t bytes) {
  std::vector<char> a(bytes, 'x');
  std::vector<char> b(bytes);
  std::memcpy(b.data(), a.data(), bytes); // fault the pages in first
  auto t0 = std::chrono::steady_clock::now();
  constexpr int rounds = 4;
  for (int i = 0; i < rounds; ++i) {
    a[static_cast<size_t>(i)] = static_cast<char>(i);
    std::memcpy(b.data(), a.data(), bytes);
  }
  auto s = seconds_since(t0);
  if (b[1] != 1) // keep the copies
    std::printf("?");
  return rounds * static_cast<double>(bytes) / s / 1e6;
}

double file_write_mb_per_s(const std::string& dir, size_t bytes) {
  auto path = dir + "/bench-write-probe";
  std::vector<char> chunk(4 << 20, 'w');
  auto t0 = std::chrono::steady_clock::now();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr)
    return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  size_t done = 0;
  while (done < bytes
         && std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size())
    done += chunk.size();
  std::fclose(f);
  auto s = seconds_since(t0);
  std::remove(path.c_str());
  return done < bytes ? 0 : static_cast<double>(done) / s / 1e6;
}

} // namespace lg::bench
