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
// The functions are plain C symbols called through ctypes from numba-compiled
// loader code; they run concurrently on the loader's threads, so all decoder
// state is thread-local and OpenCV is kept single-threaded.
#include <Python.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <vector>

#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace {

enum Mode { kJpeg = 0, kRaw = 1, kPng = 2 };

enum Status {
  kOk = 0,
  kBadArgs = -1,
  kCorrupt = -2,
  kNoRoom = -3,
};

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

void resize_box(const cv::Mat& src, double x0, double y0, double bw,
                double bh, uint8_t* dst, int out_h, int out_w, int interp) {
  cv::Mat out(out_h, out_w, CV_8UC3, dst);
  double ix0 = std::floor(x0), iy0 = std::floor(y0);
  bool integral = ix0 == x0 && iy0 == y0 && std::floor(bw) == bw &&
                  std::floor(bh) == bh;
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

int decode_jpeg_crop(const uint8_t* src, uint64_t src_size, int cy, int cx,
                     int ch, int cw, uint8_t* tmp, uint64_t tmp_size,
                     uint8_t* dst, int out_h, int out_w, int interp,
                     int dct_scaling, int* used_scale) {
  Decompressor& d = tls_decompressor;
  jpeg_decompress_struct& cinfo = d.cinfo;
  if (setjmp(d.err.jump)) {
    jpeg_abort_decompress(&cinfo);
    return kCorrupt;
  }
  jpeg_mem_src(&cinfo, src, static_cast<unsigned long>(src_size));
  jpeg_read_header(&cinfo, TRUE);
  if (cx < 0 || cy < 0 || cw <= 0 || ch <= 0 ||
      cx + cw > static_cast<int>(cinfo.image_width) ||
      cy + ch > static_cast<int>(cinfo.image_height)) {
    jpeg_abort_decompress(&cinfo);
    return kBadArgs;
  }
  cinfo.out_color_space = JCS_RGB;
  // Smallest DCT scale n/8 that keeps the crop at least the output size.
  int num = 8;
  if (dct_scaling) {
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
  cv::Mat region(rows, cinfo.output_width, CV_8UC3, tmp, stride);
  resize_box(region, fx0 - xoff, fy0 - iy0, fw, fh, dst, out_h, out_w, interp);
  if (used_scale) *used_scale = num;
  return kOk;
}

}  // namespace

extern "C" {

// Decode the box (cy, cx, ch, cw) of one record and resize it to
// out_h x out_w RGB at dst (HWC, or CHW planes if channels_first). mode:
// 0 JPEG, 1 raw HxWx3, 2 PNG. tmp holds the decoded window (at most
// img_h * img_w * 3 bytes). Returns 0 or a negative status; *used_scale
// receives the DCT scale numerator (n/8) for JPEG.
int essl_decode_crop(const uint8_t* src, uint64_t src_size, int mode,
                     int img_h, int img_w, int cy, int cx, int ch, int cw,
                     uint8_t* tmp, uint64_t tmp_size, uint8_t* dst, int out_h,
                     int out_w, int interp, int dct_scaling, int* used_scale,
                     int channels_first) {
  if (out_h <= 0 || out_w <= 0 || interp < 0 || interp > 4) return kBadArgs;
  if (used_scale) *used_scale = 8;
  if (channels_first) {
    // Resize into an HWC staging buffer, then split into planes here, on the
    // loader thread: a uint8 NHWC->NCHW transpose of the batch in torch
    // costs more than the decode of small outputs.
    thread_local std::vector<uint8_t> staging;
    staging.resize(static_cast<size_t>(out_h) * out_w * 3);
    int status = essl_decode_crop(src, src_size, mode, img_h, img_w, cy, cx,
                                  ch, cw, tmp, tmp_size, staging.data(), out_h,
                                  out_w, interp, dct_scaling, used_scale, 0);
    if (status != kOk) return status;
    cv::Mat hwc(out_h, out_w, CV_8UC3, staging.data());
    const size_t plane = static_cast<size_t>(out_h) * out_w;
    cv::Mat planes[3] = {cv::Mat(out_h, out_w, CV_8U, dst),
                         cv::Mat(out_h, out_w, CV_8U, dst + plane),
                         cv::Mat(out_h, out_w, CV_8U, dst + 2 * plane)};
    cv::split(hwc, planes);
    return kOk;
  }
  try {
    if (mode == kJpeg) {
      return decode_jpeg_crop(src, src_size, cy, cx, ch, cw, tmp, tmp_size,
                              dst, out_h, out_w, interp, dct_scaling,
                              used_scale);
    }
    if (cx < 0 || cy < 0 || cw <= 0 || ch <= 0 || cx + cw > img_w ||
        cy + ch > img_h)
      return kBadArgs;
    if (mode == kRaw) {
      if (src_size < static_cast<uint64_t>(img_h) * img_w * 3) return kCorrupt;
      cv::Mat img(img_h, img_w, CV_8UC3, const_cast<uint8_t*>(src));
      resize_box(img, cx, cy, cw, ch, dst, out_h, out_w, interp);
      return kOk;
    }
    if (mode == kPng) {
      cv::Mat buf(1, static_cast<int>(src_size), CV_8U,
                  const_cast<uint8_t*>(src));
      cv::Mat bgr = cv::imdecode(buf, cv::IMREAD_COLOR);
      if (bgr.empty() || bgr.rows != img_h || bgr.cols != img_w)
        return kCorrupt;
      resize_box(bgr, cx, cy, cw, ch, dst, out_h, out_w, interp);
      cv::Mat out(out_h, out_w, CV_8UC3, dst);
      cv::cvtColor(out, out, cv::COLOR_BGR2RGB);
      return kOk;
    }
  } catch (const cv::Exception&) {
    return kCorrupt;
  }
  return kBadArgs;
}

// Word i of a uint64 array: compiled pipeline code reads per-epoch state
// (the crop generator's seed and epoch) through this by address.
uint64_t essl_load_u64(const uint64_t* words, int i) {
  return __atomic_load_n(words + i, __ATOMIC_RELAXED);
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
