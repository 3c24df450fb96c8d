// Node-API bindings of the native kernel core.
//
// exports.isas()      → instruction sets this CPU can run, best first (plus the
//                       test-only "avx2-wide"), e.g. ["avx512", "avx2", "avx2-wide", "scalar"]
// exports.bind(isa)   → { gemm, biasActivation, activationBackward, biasGrad, loss, axpy,
//                       scale, dot, norm, sgdStep, adamStep } for that instruction set
// exports.cpu         → { avx2, fma, avx512f } as detected
//
// Every function works directly on the memory of the Float32Arrays it gets (Data()
// includes the view's byte offset; SharedArrayBuffer views work the same), checks
// every size and length first and throws TypeError / RangeError instead of touching
// memory out of bounds. Calls are synchronous: a worker thread is already the
// background thread, and per-call scratch memory is thread_local.
#include <napi.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common.h"

namespace {

using mt::idx;
using mt::KernelTable;

const KernelTable* table_of(const Napi::CallbackInfo& info) {
  return static_cast<const KernelTable*>(info.Data());
}

// --- argument checking --------------------------------------------------------------

struct Args {
  const Napi::CallbackInfo& info;
  const char* fn;

  Napi::Env env() const { return info.Env(); }

  [[noreturn]] void type_error(const std::string& msg) const {
    throw Napi::TypeError::New(env(), std::string(fn) + ": " + msg);
  }
  [[noreturn]] void range_error(const std::string& msg) const {
    throw Napi::RangeError::New(env(), std::string(fn) + ": " + msg);
  }

  void count(std::size_t n) const {
    if (info.Length() < n)
      type_error("expected " + std::to_string(n) + " arguments, got " +
                 std::to_string(info.Length()));
  }

  bool boolean(std::size_t i, const char* name) const {
    const Napi::Value v = info[i];
    if (!v.IsBoolean()) type_error(std::string(name) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  double number(std::size_t i, const char* name) const {
    const Napi::Value v = info[i];
    if (!v.IsNumber()) type_error(std::string(name) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }

  // A size: a non-negative integer (safe integer range).
  idx size(std::size_t i, const char* name) const {
    const double d = number(i, name);
    if (!(d >= 0.0) || d != std::floor(d) || d > 9007199254740991.0)
      range_error(std::string(name) + " must be a non-negative integer, got " + num_str(d));
    return static_cast<idx>(d);
  }

  int code(std::size_t i, const char* name, int limit) const {
    const double d = number(i, name);
    if (!(d >= 0.0) || d != std::floor(d) || d >= limit)
      range_error(std::string(name) + " code out of range: " + num_str(d));
    return static_cast<int>(d);
  }

  template <typename T, napi_typedarray_type kType>
  T* typed(std::size_t i, const char* name, idx needed, const char* kind,
           const std::string& why) const {
    const Napi::Value v = info[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kType)
      type_error(std::string(name) + " must be a " + kind);
    Napi::TypedArrayOf<T> arr = v.As<Napi::TypedArrayOf<T>>();
    const std::size_t len = arr.ElementLength();
    if (static_cast<double>(len) < static_cast<double>(needed))
      range_error(std::string(name) + " has " + std::to_string(len) + " elements, needs " +
                  std::to_string(needed) + " (" + why + ")");
    return arr.Data();
  }

  float* f32(std::size_t i, const char* name, idx needed, const std::string& why) const {
    return typed<float, napi_float32_array>(i, name, needed, "Float32Array", why);
  }

  double* f64(std::size_t i, const char* name, idx needed, const std::string& why) const {
    return typed<double, napi_float64_array>(i, name, needed, "Float64Array", why);
  }

  idx product(idx a, idx b, const char* what) const {
    idx r;
    if (__builtin_mul_overflow(a, b, &r)) range_error(std::string(what) + " is too large");
    return r;
  }

  static std::string num_str(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return buf;
  }
};

std::string dims(idx a, idx b) { return std::to_string(a) + "×" + std::to_string(b); }

// --- kernels ------------------------------------------------------------------------

// gemm(transA, transB, m, n, k, alpha, a, b, beta, c)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const Args g{info, "gemm"};
  g.count(10);
  const bool ta = g.boolean(0, "transA"), tb = g.boolean(1, "transB");
  const idx m = g.size(2, "m"), n = g.size(3, "n"), k = g.size(4, "k");
  const double alpha = g.number(5, "alpha"), beta = g.number(8, "beta");
  const float* a = g.f32(6, "a", g.product(m, k, "m×k"), (ta ? "k×m = " : "m×k = ") + (ta ? dims(k, m) : dims(m, k)));
  const float* b = g.f32(7, "b", g.product(k, n, "k×n"), (tb ? "n×k = " : "k×n = ") + (tb ? dims(n, k) : dims(k, n)));
  float* c = g.f32(9, "c", g.product(m, n, "m×n"), "m×n = " + dims(m, n));
  table_of(info)->gemm(ta, tb, m, n, k, static_cast<float>(alpha), a, b, static_cast<float>(beta), c);
  return info.Env().Undefined();
}

// biasActivation(rows, cols, z, bias, actCode, h)
Napi::Value BiasActivation(const Napi::CallbackInfo& info) {
  const Args g{info, "biasActivation"};
  g.count(6);
  const idx rows = g.size(0, "rows"), cols = g.size(1, "cols");
  const idx total = g.product(rows, cols, "rows×cols");
  const std::string why = "rows×cols = " + dims(rows, cols);
  float* z = g.f32(2, "z", total, why);
  const float* bias = g.f32(3, "bias", cols, "cols = " + std::to_string(cols));
  const int act = g.code(4, "activation", mt::kActCount);
  float* h = g.f32(5, "h", total, why);
  table_of(info)->bias_activation(rows, cols, z, bias, act, h);
  return info.Env().Undefined();
}

// activationBackward(n, actCode, z, h, dh, dz): only the array the derivative reads
// (z for gelu, h for relu/tanh/sigmoid, neither for identity) must hold n elements.
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  const Args g{info, "activationBackward"};
  g.count(6);
  const idx n = g.size(0, "n");
  const int act = g.code(1, "activation", mt::kActCount);
  const std::string why = "n = " + std::to_string(n);
  const float* z = g.f32(2, "z", act == mt::kGelu ? n : 0, why);
  const bool reads_h = act == mt::kRelu || act == mt::kTanh || act == mt::kSigmoid;
  const float* h = g.f32(3, "h", reads_h ? n : 0, why);
  const float* dh = g.f32(4, "dh", n, why);
  float* dz = g.f32(5, "dz", n, why);
  table_of(info)->activation_backward(n, act, z, h, dh, dz);
  return info.Env().Undefined();
}

// biasGrad(rows, cols, dy, db)
Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  const Args g{info, "biasGrad"};
  g.count(4);
  const idx rows = g.size(0, "rows"), cols = g.size(1, "cols");
  const float* dy = g.f32(2, "dy", g.product(rows, cols, "rows×cols"), "rows×cols = " + dims(rows, cols));
  float* db = g.f32(3, "db", cols, "cols = " + std::to_string(cols));
  table_of(info)->bias_grad(rows, cols, dy, db);
  return info.Env().Undefined();
}

// loss(kindCode, rows, cols, pred, target, gradScale, grad, stats)
Napi::Value Loss(const Napi::CallbackInfo& info) {
  const Args g{info, "loss"};
  g.count(8);
  const int kind = g.code(0, "loss kind", mt::kLossCount);
  const idx rows = g.size(1, "rows"), cols = g.size(2, "cols");
  const idx total = g.product(rows, cols, "rows×cols");
  const std::string why = "rows×cols = " + dims(rows, cols);
  const float* pred = g.f32(3, "pred", total, why);
  const bool per_row = kind == mt::kCrossEntropy;
  const float* target = g.f32(4, "target", per_row ? rows : total,
                              per_row ? "one class index per row, rows = " + std::to_string(rows) : why);
  const double grad_scale = g.number(5, "gradScale");
  float* grad = g.f32(6, "grad", total, why);
  double* stats = g.f64(7, "stats", 3, "LOSS_STATS_LENGTH = 3");
  const idx bad = mt::loss(kind, rows, cols, pred, target, static_cast<float>(grad_scale), grad, stats);
  if (bad >= 0)
    g.range_error("cross_entropy target[" + std::to_string(bad) + "] = " +
                  Args::num_str(target[bad]) + " is not a class index in [0, " +
                  std::to_string(cols) + ")");
  return info.Env().Undefined();
}

// axpy(n, alpha, x, y)
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const Args g{info, "axpy"};
  g.count(4);
  const idx n = g.size(0, "n");
  const double alpha = g.number(1, "alpha");
  const std::string why = "n = " + std::to_string(n);
  const float* x = g.f32(2, "x", n, why);
  float* y = g.f32(3, "y", n, why);
  table_of(info)->axpy(n, static_cast<float>(alpha), x, y);
  return info.Env().Undefined();
}

// scale(n, alpha, x)
Napi::Value Scale(const Napi::CallbackInfo& info) {
  const Args g{info, "scale"};
  g.count(3);
  const idx n = g.size(0, "n");
  const double alpha = g.number(1, "alpha");
  float* x = g.f32(2, "x", n, "n = " + std::to_string(n));
  table_of(info)->scale(n, static_cast<float>(alpha), x);
  return info.Env().Undefined();
}

// dot(n, x, y) → number
Napi::Value Dot(const Napi::CallbackInfo& info) {
  const Args g{info, "dot"};
  g.count(3);
  const idx n = g.size(0, "n");
  const std::string why = "n = " + std::to_string(n);
  const float* x = g.f32(1, "x", n, why);
  const float* y = g.f32(2, "y", n, why);
  return Napi::Number::New(info.Env(), table_of(info)->dot(n, x, y));
}

// norm(n, x) → number
Napi::Value Norm(const Napi::CallbackInfo& info) {
  const Args g{info, "norm"};
  g.count(2);
  const idx n = g.size(0, "n");
  const float* x = g.f32(1, "x", n, "n = " + std::to_string(n));
  return Napi::Number::New(info.Env(), std::sqrt(table_of(info)->sum_squares(n, x)));
}

// sgdStep(n, param, grad, buf, lr, momentum, dampening, nesterov, weightDecay, firstStep)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const Args g{info, "sgdStep"};
  g.count(10);
  const idx n = g.size(0, "n");
  mt::SgdHyper h{};
  h.lr = g.number(4, "lr");
  h.momentum = g.number(5, "momentum");
  h.dampening = g.number(6, "dampening");
  h.nesterov = g.boolean(7, "nesterov");
  h.weight_decay = g.number(8, "weightDecay");
  h.first_step = g.boolean(9, "firstStep");
  const std::string why = "n = " + std::to_string(n);
  float* param = g.f32(1, "param", n, why);
  const float* grad = g.f32(2, "grad", n, why);
  float* buf = g.f32(3, "buf", h.momentum != 0.0 ? n : 0, why + " (momentum ≠ 0)");
  table_of(info)->sgd_step(n, param, grad, buf, h);
  return info.Env().Undefined();
}

// adamStep(n, param, grad, m, v, lr, beta1, beta2, eps, weightDecay, decoupled, step)
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  const Args g{info, "adamStep"};
  g.count(12);
  const idx n = g.size(0, "n");
  mt::AdamHyper h{};
  h.lr = g.number(5, "lr");
  h.beta1 = g.number(6, "beta1");
  h.beta2 = g.number(7, "beta2");
  h.eps = g.number(8, "eps");
  h.weight_decay = g.number(9, "weightDecay");
  h.decoupled = g.boolean(10, "decoupled");
  h.step = g.number(11, "step");
  if (!(h.step >= 1.0)) g.range_error("step must be ≥ 1 (1-based), got " + Args::num_str(h.step));
  const std::string why = "n = " + std::to_string(n);
  float* param = g.f32(1, "param", n, why);
  const float* grad = g.f32(2, "grad", n, why);
  float* m = g.f32(3, "m", n, why);
  float* v = g.f32(4, "v", n, why);
  table_of(info)->adam_step(n, param, grad, m, v, h);
  return info.Env().Undefined();
}

// --- instruction-set selection -------------------------------------------------------

struct Cpu {
  bool avx2 = false, fma = false, avx512f = false;
};

Cpu detect_cpu() {
  Cpu cpu;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // libgcc also checks that the OS saves the ymm/zmm state (XGETBV).
  cpu.avx2 = __builtin_cpu_supports("avx2");
  cpu.fma = __builtin_cpu_supports("fma");
  cpu.avx512f = __builtin_cpu_supports("avx512f");
#endif
  return cpu;
}

// The tables this CPU can run, best first.
std::vector<const KernelTable*> runnable_tables() {
  const Cpu cpu = detect_cpu();
  std::vector<const KernelTable*> out;
  if (cpu.avx512f && cpu.avx2 && cpu.fma && mt::avx512_table() != nullptr)
    out.push_back(mt::avx512_table());
  if (cpu.avx2 && cpu.fma && mt::avx2_table() != nullptr) {
    out.push_back(mt::avx2_table());
    out.push_back(mt::avx2_wide_table());
  }
  out.push_back(mt::scalar_table());
  return out;
}

Napi::Value Isas(const Napi::CallbackInfo& info) {
  const auto tables = runnable_tables();
  Napi::Array arr = Napi::Array::New(info.Env(), tables.size());
  for (std::size_t i = 0; i < tables.size(); ++i) arr.Set(static_cast<uint32_t>(i), tables[i]->isa);
  return arr;
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "bind: isa must be a string");
  const std::string isa = info[0].As<Napi::String>().Utf8Value();
  const KernelTable* table = nullptr;
  std::string names;
  for (const KernelTable* t : runnable_tables()) {
    if (isa == t->isa) table = t;
    names += (names.empty() ? "" : ", ") + std::string(t->isa);
  }
  if (table == nullptr)
    throw Napi::Error::New(env, "bind: instruction set '" + isa +
                                    "' is not available on this CPU (available: " + names + ")");
  // The table is immutable static data shared by every thread and environment.
  void* data = const_cast<KernelTable*>(table);
  Napi::Object k = Napi::Object::New(env);
  k.Set("isa", table->isa);
  k.Set("gemm", Napi::Function::New(env, Gemm, "gemm", data));
  k.Set("biasActivation", Napi::Function::New(env, BiasActivation, "biasActivation", data));
  k.Set("activationBackward", Napi::Function::New(env, ActivationBackward, "activationBackward", data));
  k.Set("biasGrad", Napi::Function::New(env, BiasGrad, "biasGrad", data));
  k.Set("loss", Napi::Function::New(env, Loss, "loss", data));
  k.Set("axpy", Napi::Function::New(env, Axpy, "axpy", data));
  k.Set("scale", Napi::Function::New(env, Scale, "scale", data));
  k.Set("dot", Napi::Function::New(env, Dot, "dot", data));
  k.Set("norm", Napi::Function::New(env, Norm, "norm", data));
  k.Set("sgdStep", Napi::Function::New(env, SgdStep, "sgdStep", data));
  k.Set("adamStep", Napi::Function::New(env, AdamStep, "adamStep", data));
  return k;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const Cpu cpu = detect_cpu();
  Napi::Object c = Napi::Object::New(env);
  c.Set("avx2", cpu.avx2);
  c.Set("fma", cpu.fma);
  c.Set("avx512f", cpu.avx512f);
  exports.Set("cpu", c);
  exports.Set("isas", Napi::Function::New(env, Isas, "isas"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  return exports;
}

}  // namespace

NODE_API_MODULE(multitask_native, Init)
