// Crop decode for ESSL storage records (JPEG, raw RGB, PNG).
//
// A JPEG record is decoded only over the rows and iMCU columns that cover the
// requested crop, with the libjpeg API of the system libjpeg-turbo (2.1 has
// jpeg_crop_scanline / jpeg_skip_scanlines and DCT-domain scaling, not the 3.0
// tj3SetCroppingRegion API): rows below the crop are never entropy-decoded,
// columns outside it are never inverse-DCT'd, upsampled or colour-converted.
// When the crop is at least twice the output size the IDCT runs at 1/2, 1/4 or
// 1/8 scale, so the remaining resize is always a reduction by less than 2x.
//
// A JPEG written with restart markers goes further: the restart intervals
// that cover the crop are spliced into a small JPEG of their own (frame size
// adjusted, markers renumbered), so rows above the crop and columns beside it
// are not even entropy-decoded and the decoder's work follows the crop's
// area. Streams without markers, or whose intervals do not tile the MCU rows,
// take the path above.
//
// The functions are plain C symbols called through ctypes from numba-compiled
// loader code; they run concurrently on the loader's threads, so all decoder
// state is thread-local and OpenCV is kept single-threaded.
#include <Python.h>

#include <signal.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <atomic>
#include <chrono>
#include <vector>

#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace {

enum Mode { kJpeg = 0, kRaw = 1, kPng = 2 };

// Decode options (bits of `flags`): IDCT at 1/2-1/8 scale when the box
// allows, libjpeg's merged ("fast", non-fancy) chroma upsampling, and its
// fast integer IDCT (JDCT_IFAST) instead of the accurate one.
enum Flag { kDctScaling = 1, kMergedUpsampling = 2, kFastIdct = 4 };

enum Status {
  kOk = 0,
  kBadArgs = -1,
  kCorrupt = -2,
  kNoRoom = -3,
};

// Per-stage time spent in the decoder, summed over threads (nanoseconds),
// collected only while profiling is switched on.
// The two bicubic sub-stages are parts of kResize, timed inside the kernel.
enum Stage {
  kSplice = 0,
  kDecode = 1,
  kResize = 2,
  kLayout = 3,
  kCubicVertical = 4,
  kCubicHorizontal = 5,
  kStages = 6
};
std::atomic<int> g_profile{0};
std::atomic<uint64_t> g_stage_ns[kStages];
std::atomic<uint64_t> g_profiled_images{0};

class StageTimer {
 public:
  StageTimer() : on_(g_profile.load(std::memory_order_relaxed)) {
    if (on_) last_ = now();
  }
  // Charges the time since the previous mark to `stage`.
  void mark(Stage stage) {
    if (!on_) return;
    uint64_t t = now();
    g_stage_ns[stage].fetch_add(t - last_, std::memory_order_relaxed);
    last_ = t;
  }
  bool on() const { return on_; }
  static uint64_t now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  int on_;
  uint64_t last_ = 0;
};

// Adds the time since `*since` to `stage` and restarts it, when profiling.
inline void charge(Stage stage, uint64_t* since) {
  if (!g_profile.load(std::memory_order_relaxed)) return;
  uint64_t t = StageTimer::now();
  g_stage_ns[stage].fetch_add(t - *since, std::memory_order_relaxed);
  *since = t;
}

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
};

void on_error(j_common_ptr cinfo) {
  longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1);
}

// libjpeg prints warnings (e.g. premature end of data) to stderr by default.
void on_message(j_common_ptr) {}

struct Decompressor {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  Decompressor() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.output_message = on_message;
    jpeg_create_decompress(&cinfo);
  }
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
};

// One reusable decompressor per loader thread.
thread_local Decompressor tls_decompressor;

// Restart-interval splicing ----------------------------------------------

// What a baseline, single-scan JPEG header says about its MCU grid.
struct ScanLayout {
  int width = 0, height = 0;
  int mcu_w = 0, mcu_h = 0;      // MCU size in pixels
  int mcus_x = 0, mcus_y = 0;    // MCU grid
  int interval = 0;              // restart interval in MCUs (0: no markers)
  uint64_t frame_size_pos = 0;   // offset of SOF's height (then width) field
  uint64_t data_start = 0;       // first byte of the entropy-coded data
};

constexpr int kNotSpliced = 1;  // decode the record as it is

inline int be16(const uint8_t* p) { return (p[0] << 8) | p[1]; }

inline uint32_t be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) |
         p[3];
}

// Bus errors inside a guarded memory map (a file truncated or rewritten
// under a reader) end the process with one line naming the file instead of
// a bare SIGBUS; faults elsewhere go to the handler installed before.
constexpr int kGuards = 32;
struct Guard {
  std::atomic<uintptr_t> begin{0}, end{0};
  char message[1024];
  size_t length = 0;
};
Guard g_guards[kGuards];
struct sigaction g_previous_bus;
std::atomic<int> g_bus_installed{0};

void on_bus_error(int sig, siginfo_t* info, void* context) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Guard& g : g_guards) {
    if (at >= g.begin.load() && at < g.end.load()) {
      ssize_t ignored = write(2, g.message, g.length);
      (void)ignored;
      _exit(1);
    }
  }
  sigaction(SIGBUS, &g_previous_bus, nullptr);  // re-faults into it
}

inline void put_be16(uint8_t* p, int v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Reads the markers up to the first SOS. False for anything but a
// Huffman-coded sequential JPEG whose one scan holds every component.
bool parse_layout(const uint8_t* src, uint64_t n, ScanLayout* L) {
  if (n < 4 || src[0] != 0xFF || src[1] != 0xD8) return false;
  uint64_t pos = 2;
  int components = 0, hmax = 1, vmax = 1;
  while (pos + 4 <= n) {
    if (src[pos] != 0xFF) return false;
    int marker = src[pos + 1];
    if (marker == 0xFF) { ++pos; continue; }  // fill byte
    uint64_t len = be16(src + pos + 2);
    if (len < 2 || pos + 2 + len > n) return false;
    const uint8_t* seg = src + pos + 4;
    if (marker == 0xC0 || marker == 0xC1) {
      if (len < 8) return false;
      L->frame_size_pos = pos + 5;
      L->height = be16(seg + 1);
      L->width = be16(seg + 3);
      components = seg[5];
      if (components < 1 || len < 8 + 3ULL * components) return false;
      for (int c = 0; c < components; ++c) {
        hmax = std::max(hmax, seg[7 + 3 * c] >> 4);
        vmax = std::max(vmax, seg[7 + 3 * c] & 15);
      }
    } else if (marker >= 0xC2 && marker <= 0xCF && marker != 0xC4 &&
               marker != 0xC8 && marker != 0xCC) {
      return false;  // progressive, lossless or arithmetic-coded
    } else if (marker == 0xDD) {
      if (len < 4) return false;
      L->interval = be16(seg);
    } else if (marker == 0xDA) {
      if (components == 0 || seg[0] != components) return false;
      L->data_start = pos + 2 + len;
      break;
    }
    pos += 2 + len;
  }
  if (L->data_start == 0 || L->width <= 0 || L->height <= 0) return false;
  // A one-component scan is not interleaved: its MCU is one 8x8 block.
  L->mcu_w = components == 1 ? 8 : 8 * hmax;
  L->mcu_h = components == 1 ? 8 : 8 * vmax;
  L->mcus_x = (L->width + L->mcu_w - 1) / L->mcu_w;
  L->mcus_y = (L->height + L->mcu_h - 1) / L->mcu_h;
  return true;
}

// Byte ranges [begin[i], end[i]) of restart intervals 0..last. Fails (the
// record is damaged) when a marker is missing, out of sequence or unexpected.
bool find_intervals(const uint8_t* src, uint64_t n, uint64_t start, int last,
                    std::vector<uint64_t>* begin, std::vector<uint64_t>* end) {
  begin->assign(1, start);
  end->clear();
  uint64_t p = start;
  while (static_cast<int>(end->size()) <= last) {
    const void* hit = p < n ? std::memchr(src + p, 0xFF, n - p) : nullptr;
    if (hit == nullptr) return false;
    uint64_t q = static_cast<const uint8_t*>(hit) - src;
    if (q + 1 >= n) return false;
    int b = src[q + 1];
    if (b == 0x00 || b == 0xFF) {  // stuffed data byte, or a fill byte
      p = q + 1 + (b == 0x00);
      continue;
    }
    int index = static_cast<int>(end->size());
    bool rst = b >= 0xD0 && b <= 0xD7;
    if (rst && b - 0xD0 != (index & 7)) return false;
    if (!rst && (b != 0xD9 || index != last)) return false;
    end->push_back(q);
    begin->push_back(q + 2);
    p = q + 2;
  }
  return true;
}

// When `src` has restart intervals that tile its MCU rows, writes into `out`
// a JPEG of only the intervals covering the box (cy, cx, ch, cw) and sets
// (*oy, *ox), the spliced image's offset in the original. Returns kOk,
// kNotSpliced (no markers, or nothing to gain) or kCorrupt.
int splice_restart_intervals(const uint8_t* src, uint64_t n, int cy, int cx,
                             int ch, int cw, std::vector<uint8_t>* out,
                             int* oy, int* ox) {
  ScanLayout L;
  if (!parse_layout(src, n, &L) || L.interval <= 0) return kNotSpliced;
  // An interval spans unit_w MCUs of one row, or unit_h whole rows.
  int unit_w, unit_h;
  if (L.mcus_x % L.interval == 0) {
    unit_w = L.interval;
    unit_h = 1;
  } else if (L.interval % L.mcus_x == 0) {
    unit_w = L.mcus_x;
    unit_h = L.interval / L.mcus_x;
  } else {
    return kNotSpliced;
  }
  if (cx < 0 || cy < 0 || cw <= 0 || ch <= 0 || cx + cw > L.width ||
      cy + ch > L.height)
    return kNotSpliced;  // the decoder reports the bad box
  const int px_w = unit_w * L.mcu_w, px_h = unit_h * L.mcu_h;
  const int ux0 = cx / px_w, ux1 = (cx + cw + px_w - 1) / px_w;
  const int uy0 = cy / px_h, uy1 = (cy + ch + px_h - 1) / px_h;
  const int per_row = L.mcus_x / unit_w;
  const int rows = (L.mcus_y + unit_h - 1) / unit_h;
  if (ux0 == 0 && uy0 == 0 && ux1 == per_row && uy1 == rows)
    return kNotSpliced;  // the crop needs every interval
  thread_local std::vector<uint64_t> begin, end;
  const int last = (uy1 - 1) * per_row + ux1 - 1;
  const int total = per_row * rows;
  if (!find_intervals(src, n, L.data_start, std::min(last, total - 1), &begin,
                      &end))
    return kCorrupt;
  out->assign(src, src + L.data_start);
  const int new_w = std::min(L.width, ux1 * px_w) - ux0 * px_w;
  const int new_h = std::min(L.height, uy1 * px_h) - uy0 * px_h;
  put_be16(out->data() + L.frame_size_pos, new_h);
  put_be16(out->data() + L.frame_size_pos + 2, new_w);
  int k = 0;
  for (int uy = uy0; uy < uy1; ++uy) {
    for (int ux = ux0; ux < ux1; ++ux, ++k) {
      if (k > 0) {
        out->push_back(0xFF);
        out->push_back(static_cast<uint8_t>(0xD0 + ((k - 1) & 7)));
      }
      int i = uy * per_row + ux;
      out->insert(out->end(), src + begin[i], src + end[i]);
    }
  }
  out->push_back(0xFF);
  out->push_back(0xD9);
  *oy = uy0 * px_h;
  *ox = ux0 * px_w;
  return kOk;
}

// Bicubic resize ------------------------------------------------------------
//
// cv::resize's bicubic path for 8-bit images runs its horizontal pass one
// sample at a time and costs more than decoding the crop. This one is
// separable too, with the same kernel (A = -0.75), the same pixel-centre
// mapping and the same edge replication, but vertical first (a reduction
// shrinks the rows before the horizontal pass) and with fixed 4-tap loops
// that the compiler vectorises; weights are Q14 instead of OpenCV's Q11.

constexpr int kWeightBits = 14;

// Per output: 4 source indices clamped to [first, last] and Q14 weights.
struct CubicTaps {
  std::vector<int> index;
  std::vector<int16_t> weight;
  int lo = 0, hi = 0;
};

double cubic(double x) {
  const double a = -0.75;
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

void cubic_taps(double start, double length, int first, int last, int n,
                CubicTaps* t) {
  t->index.resize(4 * static_cast<size_t>(n));
  t->weight.resize(4 * static_cast<size_t>(n));
  t->lo = last;
  t->hi = first;
  const double scale = length / n;
  for (int i = 0; i < n; ++i) {
    double centre = start + (i + 0.5) * scale - 0.5;
    int base = static_cast<int>(std::floor(centre));
    double f = centre - base;
    const double w[4] = {cubic(1 + f), cubic(f), cubic(1 - f), cubic(2 - f)};
    int sum = 0;
    for (int j = 0; j < 4; ++j) {
      int q = static_cast<int>(std::lround(w[j] * (1 << kWeightBits)));
      t->weight[4 * i + j] = static_cast<int16_t>(q);
      sum += q;
      int idx = std::min(last, std::max(first, base - 1 + j));
      t->index[4 * i + j] = idx;
      t->lo = std::min(t->lo, idx);
      t->hi = std::max(t->hi, idx);
    }
    t->weight[4 * i + 1 + (f >= 0.5)] += (1 << kWeightBits) - sum;
  }
}

inline uint8_t round_q20(int v) {
  v = (v + (1 << 19)) >> 20;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Both passes multiply 16-bit values by 16-bit weights into 32-bit sums.
// On x86-64 CPUs with AVX2 they run 16 lanes at a time with pairs of rows
// interleaved, so that one multiply-add instruction (vpmaddwd) gives
// w0 * r0 + w1 * r1; elsewhere (and for the last lanes) plain loops. Both
// give the same integers: the sums fit 32 bits and the results 16.
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define ESSL_AVX2 1

const bool g_has_avx2 = __builtin_cpu_supports("avx2");

__attribute__((target("avx2"))) inline __m256i pair_weights(int a, int b) {
  return _mm256_set1_epi32(static_cast<int>(
      (static_cast<uint32_t>(static_cast<uint16_t>(b)) << 16) |
      static_cast<uint16_t>(a)));
}

// w0*a + w1*b + w2*c + w3*d + bias, >> shift, for 16 int16 lanes, as two
// 8 x int32 halves repacked in order (unpack and pack both work per 128-bit
// lane, so the order comes back).
__attribute__((target("avx2"))) inline __m256i taps16(
    __m256i a, __m256i b, __m256i c, __m256i d, __m256i w01, __m256i w23,
    __m256i bias, int shift) {
  __m256i lo = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w01),
                       _mm256_madd_epi16(_mm256_unpacklo_epi16(c, d), w23)),
      bias);
  __m256i hi = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w01),
                       _mm256_madd_epi16(_mm256_unpackhi_epi16(c, d), w23)),
      bias);
  const __m128i count = _mm_cvtsi32_si128(shift);
  return _mm256_packs_epi32(_mm256_sra_epi32(lo, count),
                            _mm256_sra_epi32(hi, count));
}

__attribute__((target("avx2"))) inline __m256i widen16(const uint8_t* p) {
  return _mm256_cvtepu8_epi16(
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2"))) inline __m256i load16(const int16_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Vertical taps over n bytes of four rows into Q6; returns lanes done.
__attribute__((target("avx2"))) int vertical_avx2(
    const uint8_t* r0, const uint8_t* r1, const uint8_t* r2,
    const uint8_t* r3, const int16_t* w, int16_t* out, int n) {
  const __m256i w01 = pair_weights(w[0], w[1]), w23 = pair_weights(w[2], w[3]);
  const __m256i bias = _mm256_set1_epi32(128);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i v = taps16(widen16(r0 + i), widen16(r1 + i), widen16(r2 + i),
                       widen16(r3 + i), w01, w23, bias, 8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), v);
  }
  return i;
}

// Horizontal taps over n Q6 values of four rows into 8-bit; lanes done.
__attribute__((target("avx2"))) int horizontal_avx2(
    const int16_t* c0, const int16_t* c1, const int16_t* c2,
    const int16_t* c3, const int16_t* w, uint8_t* out, int n) {
  const __m256i w01 = pair_weights(w[0], w[1]), w23 = pair_weights(w[2], w[3]);
  const __m256i bias = _mm256_set1_epi32(1 << 19);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i v = taps16(load16(c0 + i), load16(c1 + i), load16(c2 + i),
                       load16(c3 + i), w01, w23, bias, 20);
    // Saturating pack to 8 bits, then the two 64-bit halves that hold it.
    __m256i bytes = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_castsi256_si128(bytes));
  }
  return i;
}
#endif

// Output row y of the vertical pass, source columns [lo, lo + span), Q6.
void cubic_vertical_row(const cv::Mat& src, const CubicTaps& tx,
                        const CubicTaps& ty, int y, int16_t* tmp) {
  const int span = tx.hi - tx.lo + 1;
  const int* iy = &ty.index[4 * y];
  const int16_t* wy = &ty.weight[4 * y];
  const uint8_t* r0 = src.ptr<uint8_t>(iy[0]) + 3 * tx.lo;
  const uint8_t* r1 = src.ptr<uint8_t>(iy[1]) + 3 * tx.lo;
  const uint8_t* r2 = src.ptr<uint8_t>(iy[2]) + 3 * tx.lo;
  const uint8_t* r3 = src.ptr<uint8_t>(iy[3]) + 3 * tx.lo;
  const int w0 = wy[0], w1 = wy[1], w2 = wy[2], w3 = wy[3];
  int i = 0;
#ifdef ESSL_AVX2
  if (g_has_avx2) i = vertical_avx2(r0, r1, r2, r3, wy, tmp, 3 * span);
#endif
  for (; i < 3 * span; ++i)  // Q14 x 8 bit -> Q6
    tmp[i] = static_cast<int16_t>(
        (w0 * r0[i] + w1 * r1[i] + w2 * r2[i] + w3 * r3[i] + 128) >> 8);
}

// Output rows the vertical pass computes before storing them transposed:
// each source column then takes one contiguous store of kBlock pixels.
constexpr int kBlock = 4;

// Vertical pass of every output row over source columns [lo, lo + span),
// written transposed: source column x becomes row x of `cols` (Q6). `tmp`
// holds kBlock rows of 3 * span values.
void cubic_vertical_pass(const cv::Mat& src, const CubicTaps& tx,
                         const CubicTaps& ty, int out_h, int16_t* tmp,
                         int16_t* cols) {
  const int span = tx.hi - tx.lo + 1, line = 3 * out_h;
  for (int y0 = 0; y0 < out_h; y0 += kBlock) {
    const int rows = std::min(kBlock, out_h - y0);
    for (int k = 0; k < rows; ++k)
      cubic_vertical_row(src, tx, ty, y0 + k, tmp + 3 * span * k);
    for (int x = 0; x < span; ++x) {
      int16_t* c = &cols[static_cast<size_t>(x) * line + 3 * y0];
      for (int k = 0; k < rows; ++k) {
        const int16_t* t = tmp + 3 * span * k + 3 * x;
        c[3 * k] = t[0], c[3 * k + 1] = t[1], c[3 * k + 2] = t[2];
      }
    }
  }
}

// Horizontal pass over the rows of `cols`, then back to HWC at dst.
void cubic_horizontal_pass(const CubicTaps& tx, const int16_t* cols,
                           uint8_t* done, uint8_t* dst, int out_h,
                           int out_w) {
  const int line = 3 * out_h;
  for (int x = 0; x < out_w; ++x) {
    const int* ix = &tx.index[4 * x];
    const int16_t* wx = &tx.weight[4 * x];
    const int16_t* c0 = &cols[static_cast<size_t>(ix[0] - tx.lo) * line];
    const int16_t* c1 = &cols[static_cast<size_t>(ix[1] - tx.lo) * line];
    const int16_t* c2 = &cols[static_cast<size_t>(ix[2] - tx.lo) * line];
    const int16_t* c3 = &cols[static_cast<size_t>(ix[3] - tx.lo) * line];
    const int w0 = wx[0], w1 = wx[1], w2 = wx[2], w3 = wx[3];
    uint8_t* o = &done[static_cast<size_t>(x) * line];
    int i = 0;
#ifdef ESSL_AVX2
    if (g_has_avx2) i = horizontal_avx2(c0, c1, c2, c3, wx, o, line);
#endif
    for (; i < line; ++i)  // Q14 x Q6 -> Q20
      o[i] = round_q20(w0 * c0[i] + w1 * c1[i] + w2 * c2[i] + w3 * c3[i]);
  }
  for (int y = 0; y < out_h; ++y) {
    uint8_t* out = dst + static_cast<size_t>(y) * out_w * 3;
    for (int x = 0; x < out_w; ++x) {
      const uint8_t* d = &done[static_cast<size_t>(x) * line + 3 * y];
      out[3 * x] = d[0], out[3 * x + 1] = d[1], out[3 * x + 2] = d[2];
    }
  }
}

// Box (x0, y0, bw, bh) of an RGB image resized to out_h x out_w; source
// pixels outside [x_first, x_last] x [y_first, y_last] are replicated edges.
// Both passes combine whole rows: the vertical one on the source rows, the
// horizontal one on the columns of the transposed intermediate, so no pass
// gathers single samples.
void resize_cubic_rgb(const cv::Mat& src, double x0, double y0, double bw,
                      double bh, int x_first, int x_last, int y_first,
                      int y_last, uint8_t* dst, int out_h, int out_w) {
  thread_local CubicTaps tx, ty;
  thread_local std::vector<int16_t> rows, cols;
  thread_local std::vector<uint8_t> done;
  uint64_t since = g_profile.load(std::memory_order_relaxed)
                       ? StageTimer::now() : 0;
  cubic_taps(x0, bw, x_first, x_last, out_w, &tx);
  cubic_taps(y0, bh, y_first, y_last, out_h, &ty);
  const int span = tx.hi - tx.lo + 1, line = 3 * out_h;
  rows.resize(static_cast<size_t>(3) * span * kBlock);
  cols.resize(static_cast<size_t>(span) * line);
  done.resize(static_cast<size_t>(out_w) * line);
  cubic_vertical_pass(src, tx, ty, out_h, rows.data(), cols.data());
  charge(kCubicVertical, &since);
  cubic_horizontal_pass(tx, cols.data(), done.data(), dst, out_h, out_w);
  charge(kCubicHorizontal, &since);
}

void resize_box(const cv::Mat& src, double x0, double y0, double bw,
                double bh, uint8_t* dst, int out_h, int out_w, int interp) {
  cv::Mat out(out_h, out_w, CV_8UC3, dst);
  double ix0 = std::floor(x0), iy0 = std::floor(y0);
  bool integral = ix0 == x0 && iy0 == y0 && std::floor(bw) == bw &&
                  std::floor(bh) == bh;
  if (interp == cv::INTER_CUBIC) {
    // An integral box is resized as an image of its own (cv::resize of the
    // crop); a fractional one reads its neighbours within the region.
    int x_first = integral ? static_cast<int>(x0) : 0;
    int y_first = integral ? static_cast<int>(y0) : 0;
    int x_last = integral ? static_cast<int>(x0 + bw) - 1 : src.cols - 1;
    int y_last = integral ? static_cast<int>(y0 + bh) - 1 : src.rows - 1;
    resize_cubic_rgb(src, x0, y0, bw, bh, x_first, x_last, y_first, y_last,
                     dst, out_h, out_w);
    return;
  }
  if (integral) {
    // The same call a full decode followed by cv2.resize of the box makes.
    cv::Rect r(static_cast<int>(x0), static_cast<int>(y0),
               static_cast<int>(bw), static_cast<int>(bh));
    cv::resize(src(r), out, out.size(), 0, 0, interp);
    return;
  }
  // A box with fractional corners (after DCT scaling): map output pixel
  // centres onto it exactly, as cv::resize does for an integral box. The
  // remaining reduction is < 2x, where area interpolation equals bilinear.
  double sx = bw / out_w, sy = bh / out_h;
  cv::Matx23d m(sx, 0, x0 + 0.5 * sx - 0.5, 0, sy, y0 + 0.5 * sy - 0.5);
  int flag = interp == cv::INTER_AREA ? cv::INTER_LINEAR : interp;
  cv::warpAffine(src, out, m, out.size(), flag | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REPLICATE);
}

// Where a path that makes HWC pixels puts them: dst itself, or (for CHW
// output) a staging buffer that finish_layout splits into dst's planes.
uint8_t* hwc_target(uint8_t* dst, int out_h, int out_w, int channels_first) {
  thread_local std::vector<uint8_t> staging;
  if (!channels_first) return dst;
  staging.resize(static_cast<size_t>(out_h) * out_w * 3);
  return staging.data();
}

void finish_layout(uint8_t* hwc, uint8_t* dst, int out_h, int out_w,
                   int channels_first, StageTimer* timer) {
  if (!channels_first) return;
  // Split on the loader thread: a uint8 NHWC->NCHW transpose of the batch
  // in torch costs more than the decode of small outputs.
  cv::Mat image(out_h, out_w, CV_8UC3, hwc);
  const size_t plane = static_cast<size_t>(out_h) * out_w;
  cv::Mat planes[3] = {cv::Mat(out_h, out_w, CV_8U, dst),
                       cv::Mat(out_h, out_w, CV_8U, dst + plane),
                       cv::Mat(out_h, out_w, CV_8U, dst + 2 * plane)};
  cv::split(image, planes);
  timer->mark(kLayout);
}

int decode_jpeg_crop(const uint8_t* src, uint64_t src_size, int img_h,
                     int img_w, int cy, int cx, int ch, int cw, uint8_t* tmp,
                     uint64_t tmp_size,
                     uint8_t* dst, int out_h, int out_w, int interp,
                     int flags, int* used_scale, int channels_first,
                     StageTimer* timer) {
  thread_local std::vector<uint8_t> spliced;
  int oy = 0, ox = 0;
  int split = splice_restart_intervals(src, src_size, cy, cx, ch, cw,
                                       &spliced, &oy, &ox);
  if (split == kCorrupt) return kCorrupt;
  if (split == kOk) {
    src = spliced.data();
    src_size = spliced.size();
    cy -= oy;
    cx -= ox;
  }
  timer->mark(kSplice);
  Decompressor& d = tls_decompressor;
  jpeg_decompress_struct& cinfo = d.cinfo;
  if (setjmp(d.err.jump)) {
    jpeg_abort_decompress(&cinfo);
    return kCorrupt;
  }
  // libjpeg only warns on damaged entropy data and fills in zeros; a record
  // that draws a warning is reported as corrupt rather than used.
  d.err.pub.num_warnings = 0;
  jpeg_mem_src(&cinfo, src, static_cast<unsigned long>(src_size));
  jpeg_read_header(&cinfo, TRUE);
  // The frame must lie within the size the record index gives (exactly
  // that size unless spliced): a header claiming 30000^2 would otherwise
  // size the decoder's buffers.
  const int64_t fw_end = static_cast<int64_t>(ox) + cinfo.image_width;
  const int64_t fh_end = static_cast<int64_t>(oy) + cinfo.image_height;
  if (fw_end > img_w || fh_end > img_h ||
      (split != kOk && (fw_end != img_w || fh_end != img_h))) {
    jpeg_abort_decompress(&cinfo);
    return kCorrupt;
  }
  if (cx < 0 || cy < 0 || cw <= 0 || ch <= 0 ||
      cx + cw > static_cast<int>(cinfo.image_width) ||
      cy + ch > static_cast<int>(cinfo.image_height)) {
    jpeg_abort_decompress(&cinfo);
    return kBadArgs;
  }
  cinfo.out_color_space = JCS_RGB;
  cinfo.do_fancy_upsampling = (flags & kMergedUpsampling) ? FALSE : TRUE;
  cinfo.dct_method = (flags & kFastIdct) ? JDCT_IFAST : JDCT_ISLOW;
  // Smallest DCT scale n/8 that keeps the crop at least the output size.
  int num = 8;
  if (flags & kDctScaling) {
    for (int n = 1; n < 8; n *= 2) {
      if (static_cast<int64_t>(cw) * n >= 8LL * out_w &&
          static_cast<int64_t>(ch) * n >= 8LL * out_h) {
        num = n;
        break;
      }
    }
  }
  cinfo.scale_num = num;
  cinfo.scale_denom = 8;
  jpeg_start_decompress(&cinfo);
  const double s = num / 8.0;
  const int W = cinfo.output_width, H = cinfo.output_height;
  // Box in decoded coordinates, plus one pixel of context for interpolation
  // when it is fractional.
  double fx0 = cx * s, fy0 = cy * s, fw = cw * s, fh = ch * s;
  if (used_scale) *used_scale = num;
  int pad = num == 8 ? 0 : 1;
  int ix0 = std::max(0, static_cast<int>(std::floor(fx0)) - pad);
  int iy0 = std::max(0, static_cast<int>(std::floor(fy0)) - pad);
  int ix1 = std::min(W, static_cast<int>(std::ceil(fx0 + fw)) + pad);
  int iy1 = std::min(H, static_cast<int>(std::ceil(fy0 + fh)) + pad);
  JDIMENSION xoff = ix0, width = ix1 - ix0;
  if (static_cast<int>(width) < W) {
    // Widens the window to the iMCU grid: xoff moves left, width grows.
    jpeg_crop_scanline(&cinfo, &xoff, &width);
  }
  const uint64_t stride = static_cast<uint64_t>(cinfo.output_width) * 3;
  const int rows = iy1 - iy0;
  if (stride * rows > tmp_size) {
    jpeg_abort_decompress(&cinfo);
    return kNoRoom;
  }
  if (iy0 > 0) jpeg_skip_scanlines(&cinfo, iy0);
  JSAMPROW row_ptrs[16];
  while (static_cast<int>(cinfo.output_scanline) < iy1) {
    int first = cinfo.output_scanline - iy0;
    int n = std::min(16, iy1 - static_cast<int>(cinfo.output_scanline));
    for (int i = 0; i < n; ++i) row_ptrs[i] = tmp + (first + i) * stride;
    jpeg_read_scanlines(&cinfo, row_ptrs, n);
  }
  // Rows below the crop are never read.
  jpeg_abort_decompress(&cinfo);
  if (d.err.pub.num_warnings > 0) return kCorrupt;
  timer->mark(kDecode);
  cv::Mat region(rows, cinfo.output_width, CV_8UC3, tmp, stride);
  uint8_t* out = hwc_target(dst, out_h, out_w, channels_first);
  resize_box(region, fx0 - xoff, fy0 - iy0, fw, fh, out, out_h, out_w, interp);
  timer->mark(kResize);
  finish_layout(out, dst, out_h, out_w, channels_first, timer);
  return kOk;
}

// One record into out_h x out_w RGB at dst (HWC, or CHW planes).
int decode_record(const uint8_t* src, uint64_t src_size, int mode, int img_h,
                  int img_w, int cy, int cx, int ch, int cw, uint8_t* tmp,
                  uint64_t tmp_size, uint8_t* dst, int out_h, int out_w,
                  int interp, int flags, int* used_scale,
                  int channels_first, StageTimer* timer) {
  try {
    if (mode == kJpeg) {
      return decode_jpeg_crop(src, src_size, img_h, img_w, cy, cx, ch, cw,
                              tmp, tmp_size,
                              dst, out_h, out_w, interp, flags,
                              used_scale, channels_first, timer);
    }
    if (cx < 0 || cy < 0 || cw <= 0 || ch <= 0 || cx + cw > img_w ||
        cy + ch > img_h)
      return kBadArgs;
    uint8_t* out = hwc_target(dst, out_h, out_w, channels_first);
    if (mode == kRaw) {
      if (src_size < static_cast<uint64_t>(img_h) * img_w * 3) return kCorrupt;
      cv::Mat img(img_h, img_w, CV_8UC3, const_cast<uint8_t*>(src));
      resize_box(img, cx, cy, cw, ch, out, out_h, out_w, interp);
    } else if (mode == kPng) {
      // The IHDR's size must be the index's before anything is allocated
      // for it: a header claiming 30000^2 would take 2.7 GB.
      if (src_size < 24 || be32(src + 16) != static_cast<uint32_t>(img_w) ||
          be32(src + 20) != static_cast<uint32_t>(img_h))
        return kCorrupt;
      cv::Mat buf(1, static_cast<int>(src_size), CV_8U,
                  const_cast<uint8_t*>(src));
      cv::Mat bgr = cv::imdecode(buf, cv::IMREAD_COLOR);
      if (bgr.empty() || bgr.rows != img_h || bgr.cols != img_w)
        return kCorrupt;
      timer->mark(kDecode);
      resize_box(bgr, cx, cy, cw, ch, out, out_h, out_w, interp);
      cv::Mat rgb(out_h, out_w, CV_8UC3, out);
      cv::cvtColor(rgb, rgb, cv::COLOR_BGR2RGB);
    } else {
      return kBadArgs;
    }
    timer->mark(kResize);
    finish_layout(out, dst, out_h, out_w, channels_first, timer);
    return kOk;
  } catch (const cv::Exception&) {
    return kCorrupt;
  }
}

}  // namespace

extern "C" {

// Decode the box (cy, cx, ch, cw) of one record and resize it to
// out_h x out_w RGB at dst (HWC, or CHW planes if channels_first). mode:
// 0 JPEG, 1 raw HxWx3, 2 PNG. tmp holds the decoded window (at most
// img_h * img_w * 3 bytes). flags: bits of Flag (1 is what earlier
// versions called dct_scaling). Returns 0 or a negative status; *used_scale
// receives the DCT scale numerator (n/8) for JPEG.
int essl_decode_crop(const uint8_t* src, uint64_t src_size, int mode,
                     int img_h, int img_w, int cy, int cx, int ch, int cw,
                     uint8_t* tmp, uint64_t tmp_size, uint8_t* dst, int out_h,
                     int out_w, int interp, int flags, int* used_scale,
                     int channels_first) {
  if (out_h <= 0 || out_w <= 0 || interp < 0 || interp > 4 || flags < 0 ||
      flags > (kDctScaling | kMergedUpsampling | kFastIdct))
    return kBadArgs;
  if (used_scale) *used_scale = 8;
  StageTimer timer;
  if (timer.on()) g_profiled_images.fetch_add(1, std::memory_order_relaxed);
  return decode_record(src, src_size, mode, img_h, img_w, cy, cx, ch, cw, tmp,
                       tmp_size, dst, out_h, out_w, interp, flags,
                       used_scale, channels_first, &timer);
}

// Profiling of the decoder's stages: switch on/off (resets the counters when
// switched on) and read [splice, decode, resize, layout, bicubic vertical
// pass, bicubic horizontal pass] ns and the count of images decoded while on.
void essl_profile(int on) {
  if (on) {
    for (auto& t : g_stage_ns) t.store(0);
    g_profiled_images.store(0);
  }
  g_profile.store(on);
}

void essl_profile_read(uint64_t* out) {
  for (int i = 0; i < kStages; ++i) out[i] = g_stage_ns[i].load();
  out[kStages] = g_profiled_images.load();
}

// The JPEG stream of only the restart intervals covering box (cy, cx, ch,
// cw) of src, into out (out_size bytes); *offsets receives the spliced
// image's (top, left) in src and *written its length. Returns 0, 1 when the
// stream cannot be spliced (no markers, or intervals that do not tile the
// MCU rows, or the box needs every interval), or a negative status.
int essl_splice_crop(const uint8_t* src, uint64_t src_size, int cy, int cx,
                     int ch, int cw, uint8_t* out, uint64_t out_size,
                     int* offsets, uint64_t* written) {
  std::vector<uint8_t> spliced;
  int status = splice_restart_intervals(src, src_size, cy, cx, ch, cw,
                                        &spliced, offsets, offsets + 1);
  if (status != kOk) return status;
  if (spliced.size() > out_size) return kNoRoom;
  std::memcpy(out, spliced.data(), spliced.size());
  *written = spliced.size();
  return kOk;
}

// What the headers of a JPEG say about its scan, for callers that explain
// why a stream cannot be spliced: out receives [width, height, MCU width,
// MCU height, MCUs per row, restart interval in MCUs (0: no markers)].
// Returns 0, or 1 when src is not a baseline single-scan JPEG.
int essl_jpeg_layout(const uint8_t* src, uint64_t src_size, int* out) {
  ScanLayout L;
  if (!parse_layout(src, src_size, &L)) return kNotSpliced;
  const int values[6] = {L.width, L.height, L.mcu_w, L.mcu_h, L.mcus_x,
                         L.interval};
  std::memcpy(out, values, sizeof(values));
  return kOk;
}

// Report a bus error in [begin, begin + length) with `message` (one line,
// at most 1023 bytes) and exit 1. Returns the guard's slot, or -1 if all
// are taken.
int essl_guard_mapping(uint64_t begin, uint64_t length, const char* message) {
  if (!g_bus_installed.exchange(1)) {
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &g_previous_bus);
  }
  for (int i = 0; i < kGuards; ++i) {
    Guard& g = g_guards[i];
    uintptr_t expected = 0;
    if (g.end.load() != 0 || !g.begin.compare_exchange_strong(expected, 1))
      continue;
    g.length = strnlen(message, sizeof(g.message) - 1);
    std::memcpy(g.message, message, g.length);
    g.begin.store(begin);
    g.end.store(begin + length);
    return i;
  }
  return -1;
}

void essl_unguard_mapping(int slot) {
  if (slot < 0 || slot >= kGuards) return;
  g_guards[slot].end.store(0);
  g_guards[slot].begin.store(0);
}

}  // extern "C"

static PyModuleDef essl_module = {PyModuleDef_HEAD_INIT, "_essl_decode",
                                  "ESSL crop decode (C symbols for ctypes)",
                                  -1, nullptr};

PyMODINIT_FUNC PyInit__essl_decode(void) {
  // Parallelism comes from the loader's threads, one image each.
  cv::setNumThreads(1);
  return PyModule_Create(&essl_module);
}
