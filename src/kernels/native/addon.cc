// Node-API bindings of the native kernel core.
//
// exports.isas()      → instruction sets this CPU can run, best first (plus the
//                       test-only "avx2-wide"), e.g. ["avx512", "avx2", "avx2-wide", "scalar"]
// exports.bind(isa)   → { gemm, biasActivation, activationBackward, biasGrad, loss, axpy,
//                       scale, dot, norm, sgdStep, sgdStepSummed, adamStep, adamStepSummed,
//                       gatherRows } for that instruction set
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
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "common.h"

namespace {

using mt::idx;
using mt::KernelTable;

// --- argument checking --------------------------------------------------------------
//
// The kernels are called thousands of times per training step, often on small arrays,
// so the checks go straight to Node-API (one call per argument: napi_get_typedarray_info
// returns the same data pointer, byte offset included, that Napi::TypedArrayOf::Data()
// does) and error messages are only built when they are thrown.

struct ArgError {
  bool range;  // RangeError, else TypeError
  std::string message;
};

std::string num_str(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

std::string dims(idx a, idx b) { return std::to_string(a) + "×" + std::to_string(b); }

constexpr std::size_t kMaxArgs = 13;

class Args {
 public:
  Args(napi_env env, napi_callback_info cb, const char* fn, std::size_t expected) : env_(env), fn_(fn) {
    std::size_t argc = kMaxArgs;
    void* data = nullptr;
    if (napi_get_cb_info(env, cb, &argc, argv_, nullptr, &data) != napi_ok) type_error("cannot read arguments");
    table_ = static_cast<const KernelTable*>(data);
    if (argc < expected)
      type_error("expected " + std::to_string(expected) + " arguments, got " + std::to_string(argc));
    argc_ = argc;
  }

  // Whether optional argument i was passed as something other than undefined or null.
  bool given(std::size_t i) const {
    if (i >= argc_) return false;
    napi_valuetype type;
    if (napi_typeof(env_, argv_[i], &type) != napi_ok) type_error("cannot read arguments");
    return type != napi_undefined && type != napi_null;
  }

  const KernelTable* table() const { return table_; }

  [[noreturn]] void type_error(const std::string& msg) const { throw ArgError{false, std::string(fn_) + ": " + msg}; }
  [[noreturn]] void range_error(const std::string& msg) const { throw ArgError{true, std::string(fn_) + ": " + msg}; }

  bool boolean(std::size_t i, const char* name) const {
    bool b;
    if (napi_get_value_bool(env_, argv_[i], &b) != napi_ok) type_error(std::string(name) + " must be a boolean");
    return b;
  }

  double number(std::size_t i, const char* name) const {
    double d;
    if (napi_get_value_double(env_, argv_[i], &d) != napi_ok) type_error(std::string(name) + " must be a number");
    return d;
  }

  // A size: a non-negative safe integer.
  idx size(std::size_t i, const char* name) const {
    const double d = number(i, name);
    if (!(d >= 0.0) || d != std::floor(d) || d > 9007199254740991.0)
      range_error(std::string(name) + " must be a non-negative integer, got " + num_str(d));
    return static_cast<idx>(d);
  }

  int code(std::size_t i, const char* name, int limit) const {
    const double d = number(i, name);
    if (!(d >= 0.0) || d != std::floor(d) || d >= limit) range_error(std::string(name) + " code out of range: " + num_str(d));
    return static_cast<int>(d);
  }

  // The data of a typed array of kType holding at least `needed` elements; `why`
  // (a callable returning the size formula) is only evaluated for the error message.
  // `length`, when given, receives the array's length in elements.
  template <typename T, napi_typedarray_type kType, class Why>
  T* typed(std::size_t i, const char* name, idx needed, const char* kind, Why why, std::size_t* length = nullptr) const {
    napi_typedarray_type type;
    std::size_t len = 0;
    void* data = nullptr;
    if (napi_get_typedarray_info(env_, argv_[i], &type, &len, &data, nullptr, nullptr) != napi_ok || type != kType)
      type_error(std::string(name) + " must be " + kind);
    if (static_cast<double>(len) < static_cast<double>(needed))
      range_error(std::string(name) + " has " + std::to_string(len) + " elements, needs " + std::to_string(needed) +
                  " (" + why() + ")");
    if (length != nullptr) *length = len;
    return static_cast<T*>(data);
  }

  template <class Why>
  float* f32(std::size_t i, const char* name, idx needed, Why why, std::size_t* length = nullptr) const {
    return typed<float, napi_float32_array>(i, name, needed, "a Float32Array", why, length);
  }

  template <class Why>
  std::int32_t* i32(std::size_t i, const char* name, idx needed, Why why) const {
    return typed<std::int32_t, napi_int32_array>(i, name, needed, "an Int32Array", why);
  }

  template <class Why>
  double* f64(std::size_t i, const char* name, idx needed, Why why) const {
    return typed<double, napi_float64_array>(i, name, needed, "a Float64Array", why);
  }

  idx product(idx a, idx b, const char* what) const {
    idx r;
    if (__builtin_mul_overflow(a, b, &r)) range_error(std::string(what) + " is too large");
    return r;
  }

 private:
  napi_env env_;
  const char* fn_;
  const KernelTable* table_ = nullptr;
  napi_value argv_[kMaxArgs] = {};
  std::size_t argc_ = 0;
};

// Runs a kernel entry point, turning argument errors into JS exceptions.
template <class F>
napi_value guarded(napi_env env, F f) {
  try {
    return f();
  } catch (const ArgError& e) {
    if (e.range) napi_throw_range_error(env, nullptr, e.message.c_str());
    else napi_throw_type_error(env, nullptr, e.message.c_str());
  } catch (const std::bad_alloc&) {
    napi_throw_error(env, nullptr, "multitask native kernels: out of memory for packing buffers");
  }
  return nullptr;
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value number_value(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

// --- kernels ------------------------------------------------------------------------

// gemm(transA, transB, m, n, k, alpha, a, b, beta, c)
napi_value Gemm(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "gemm", 10);
    const bool ta = g.boolean(0, "transA"), tb = g.boolean(1, "transB");
    const idx m = g.size(2, "m"), n = g.size(3, "n"), k = g.size(4, "k");
    const double alpha = g.number(5, "alpha"), beta = g.number(8, "beta");
    const float* a = g.f32(6, "a", g.product(m, k, "m×k"), [&] { return ta ? "k×m = " + dims(k, m) : "m×k = " + dims(m, k); });
    const float* b = g.f32(7, "b", g.product(k, n, "k×n"), [&] { return tb ? "n×k = " + dims(n, k) : "k×n = " + dims(k, n); });
    float* c = g.f32(9, "c", g.product(m, n, "m×n"), [&] { return "m×n = " + dims(m, n); });
    g.table()->gemm(ta, tb, m, n, k, static_cast<float>(alpha), a, b, static_cast<float>(beta), c);
    return undefined(env);
  });
}

// biasActivation(rows, cols, z, bias, actCode, h)
napi_value BiasActivation(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "biasActivation", 6);
    const idx rows = g.size(0, "rows"), cols = g.size(1, "cols");
    const idx total = g.product(rows, cols, "rows×cols");
    const auto why = [&] { return "rows×cols = " + dims(rows, cols); };
    float* z = g.f32(2, "z", total, why);
    const float* bias = g.f32(3, "bias", cols, [&] { return "cols = " + std::to_string(cols); });
    const int act = g.code(4, "activation", mt::kActCount);
    float* h = g.f32(5, "h", total, why);
    g.table()->bias_activation(rows, cols, z, bias, act, h);
    return undefined(env);
  });
}

// activationBackward(n, actCode, z, h, dh, dz): only the array the derivative reads
// (z for gelu, h for relu/tanh/sigmoid, neither for identity) must hold n elements.
napi_value ActivationBackward(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "activationBackward", 6);
    const idx n = g.size(0, "n");
    const int act = g.code(1, "activation", mt::kActCount);
    const auto why = [&] { return "n = " + std::to_string(n); };
    const bool reads_h = act == mt::kRelu || act == mt::kTanh || act == mt::kSigmoid;
    const float* z = g.f32(2, "z", act == mt::kGelu ? n : 0, why);
    const float* h = g.f32(3, "h", reads_h ? n : 0, why);
    const float* dh = g.f32(4, "dh", n, why);
    float* dz = g.f32(5, "dz", n, why);
    g.table()->activation_backward(n, act, z, h, dh, dz);
    return undefined(env);
  });
}

// biasGrad(rows, cols, dy, db)
napi_value BiasGrad(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "biasGrad", 4);
    const idx rows = g.size(0, "rows"), cols = g.size(1, "cols");
    const float* dy = g.f32(2, "dy", g.product(rows, cols, "rows×cols"), [&] { return "rows×cols = " + dims(rows, cols); });
    float* db = g.f32(3, "db", cols, [&] { return "cols = " + std::to_string(cols); });
    g.table()->bias_grad(rows, cols, dy, db);
    return undefined(env);
  });
}

// loss(kindCode, rows, cols, pred, target, gradScale, grad, stats[, classWeights])
napi_value Loss(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "loss", 8);
    const int kind = g.code(0, "loss kind", mt::kLossCount);
    const idx rows = g.size(1, "rows"), cols = g.size(2, "cols");
    const idx total = g.product(rows, cols, "rows×cols");
    const auto why = [&] { return "rows×cols = " + dims(rows, cols); };
    const float* pred = g.f32(3, "pred", total, why);
    const bool per_row = kind == mt::kCrossEntropy;
    const float* target = g.f32(4, "target", per_row ? rows : total, [&] {
      return per_row ? "one class index per row, rows = " + std::to_string(rows) : why();
    });
    const double grad_scale = g.number(5, "gradScale");
    float* grad = g.f32(6, "grad", total, why);
    double* stats = g.f64(7, "stats", 4, [] { return std::string("LOSS_STATS_LENGTH = 4"); });
    const float* weights = nullptr;
    if (g.given(8)) {
      if (kind != mt::kCrossEntropy && kind != mt::kBceWithLogits && kind != mt::kBce)
        g.range_error("a regression loss takes no class weights");
      weights = g.f32(8, "classWeights", cols, [&] { return "cols = " + std::to_string(cols); });
    }
    const idx bad = mt::loss(kind, rows, cols, pred, target, static_cast<float>(grad_scale), weights, grad, stats);
    if (bad >= 0)
      g.range_error("cross_entropy target of row " + std::to_string(bad) + " is " + num_str(target[bad]) +
                    ", not a class index in [0, " + std::to_string(cols) + ")");
    return undefined(env);
  });
}

// gatherRows(width, src, indices, start, count, dst)
napi_value GatherRows(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "gatherRows", 6);
    const idx width = g.size(0, "width");
    const idx start = g.size(3, "start");
    const idx count = g.size(4, "count");
    const idx end = start + count;  // both below 2^53: no overflow
    std::size_t src_length = 0;
    const float* src = g.f32(1, "src", 0, [] { return std::string(); }, &src_length);
    const std::int32_t* indices = g.i32(2, "indices", end, [] { return std::string("start + count"); });
    float* dst = g.f32(5, "dst", g.product(count, width, "count × width"), [] { return std::string("count × width"); });
    const idx src_rows = width > 0 ? static_cast<idx>(src_length) / width : 0;
    const idx bad = mt::gather_rows(width, src, src_rows, indices + start, count, dst);
    if (bad >= 0)
      g.range_error("indices[" + std::to_string(start + bad) + "] = " + std::to_string(indices[start + bad]) +
                    " is not a row of src (" + std::to_string(src_rows) + " rows)");
    return undefined(env);
  });
}

// axpy(n, alpha, x, y)
napi_value Axpy(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "axpy", 4);
    const idx n = g.size(0, "n");
    const double alpha = g.number(1, "alpha");
    const auto why = [&] { return "n = " + std::to_string(n); };
    const float* x = g.f32(2, "x", n, why);
    float* y = g.f32(3, "y", n, why);
    g.table()->axpy(n, static_cast<float>(alpha), x, y);
    return undefined(env);
  });
}

// scale(n, alpha, x)
napi_value Scale(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "scale", 3);
    const idx n = g.size(0, "n");
    const double alpha = g.number(1, "alpha");
    float* x = g.f32(2, "x", n, [&] { return "n = " + std::to_string(n); });
    g.table()->scale(n, static_cast<float>(alpha), x);
    return undefined(env);
  });
}

// dot(n, x, y) → number
napi_value Dot(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "dot", 3);
    const idx n = g.size(0, "n");
    const auto why = [&] { return "n = " + std::to_string(n); };
    const float* x = g.f32(1, "x", n, why);
    const float* y = g.f32(2, "y", n, why);
    return number_value(env, g.table()->dot(n, x, y));
  });
}

// norm(n, x) → number
napi_value Norm(napi_env env, napi_callback_info cb) {
  return guarded(env, [&] {
    const Args g(env, cb, "norm", 2);
    const idx n = g.size(0, "n");
    const float* x = g.f32(1, "x", n, [&] { return "n = " + std::to_string(n); });
    return number_value(env, std::sqrt(g.table()->sum_squares(n, x)));
  });
}

// An optimizer step's parameters (argument 1) and gradient (2; summed: grad0 at 2 and grad1
// at 3, the arguments after them one further on), n elements each.
struct StepOperands {
  float* param;
  const float* grad;
  const float* grad2;  // nullptr unless summed
};

StepOperands step_operands(const Args& g, idx n, bool summed) {
  const auto why = [&] { return "n = " + std::to_string(n); };
  return {g.f32(1, "param", n, why), g.f32(2, summed ? "grad0" : "grad", n, why),
          summed ? g.f32(3, "grad1", n, why) : nullptr};
}

// sgdStep(n, param, grad, buf, lr, momentum, dampening, nesterov, weightDecay, firstStep), and
// sgdStepSummed(n, param, grad0, grad1, buf, lr, …, firstStep): the step on grad0 + grad1.
napi_value Sgd(napi_env env, napi_callback_info cb, const char* fn, bool summed) {
  return guarded(env, [&] {
    const std::size_t s = summed ? 1 : 0;  // arguments after the gradient(s) move by one
    const Args g(env, cb, fn, 10 + s);
    const idx n = g.size(0, "n");
    mt::SgdHyper h{};
    h.lr = g.number(4 + s, "lr");
    h.momentum = g.number(5 + s, "momentum");
    h.dampening = g.number(6 + s, "dampening");
    h.nesterov = g.boolean(7 + s, "nesterov");
    h.weight_decay = g.number(8 + s, "weightDecay");
    h.first_step = g.boolean(9 + s, "firstStep");
    const StepOperands o = step_operands(g, n, summed);
    float* buf = g.f32(3 + s, "buf", h.momentum != 0.0 ? n : 0, [&] { return "n = " + std::to_string(n) + ", momentum ≠ 0"; });
    g.table()->sgd_step(n, o.param, o.grad, o.grad2, buf, h);
    return undefined(env);
  });
}

napi_value SgdStep(napi_env env, napi_callback_info cb) { return Sgd(env, cb, "sgdStep", false); }
napi_value SgdStepSummed(napi_env env, napi_callback_info cb) { return Sgd(env, cb, "sgdStepSummed", true); }

// adamStep(n, param, grad, m, v, lr, beta1, beta2, eps, weightDecay, decoupled, step), and
// adamStepSummed(n, param, grad0, grad1, m, v, lr, …, step): the step on grad0 + grad1.
napi_value Adam(napi_env env, napi_callback_info cb, const char* fn, bool summed) {
  return guarded(env, [&] {
    const std::size_t s = summed ? 1 : 0;  // arguments after the gradient(s) move by one
    const Args g(env, cb, fn, 12 + s);
    const idx n = g.size(0, "n");
    mt::AdamHyper h{};
    h.lr = g.number(5 + s, "lr");
    h.beta1 = g.number(6 + s, "beta1");
    h.beta2 = g.number(7 + s, "beta2");
    h.eps = g.number(8 + s, "eps");
    h.weight_decay = g.number(9 + s, "weightDecay");
    h.decoupled = g.boolean(10 + s, "decoupled");
    h.step = g.number(11 + s, "step");
    if (!(h.step >= 1.0)) g.range_error("step must be ≥ 1 (1-based), got " + num_str(h.step));
    const StepOperands o = step_operands(g, n, summed);
    const auto why = [&] { return "n = " + std::to_string(n); };
    float* m = g.f32(3 + s, "m", n, why);
    float* v = g.f32(4 + s, "v", n, why);
    g.table()->adam_step(n, o.param, o.grad, o.grad2, m, v, h);
    return undefined(env);
  });
}

napi_value AdamStep(napi_env env, napi_callback_info cb) { return Adam(env, cb, "adamStep", false); }
napi_value AdamStepSummed(napi_env env, napi_callback_info cb) { return Adam(env, cb, "adamStepSummed", true); }

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
  const std::pair<const char*, napi_callback> entries[] = {
      {"gemm", Gemm},           {"biasActivation", BiasActivation}, {"activationBackward", ActivationBackward},
      {"biasGrad", BiasGrad},   {"loss", Loss},                     {"axpy", Axpy},
      {"scale", Scale},         {"dot", Dot},                       {"norm", Norm},
      {"sgdStep", SgdStep},     {"sgdStepSummed", SgdStepSummed},   {"adamStep", AdamStep},
      {"adamStepSummed", AdamStepSummed}, {"gatherRows", GatherRows},
  };
  for (const auto& [name, fn] : entries) {
    napi_value f;
    NAPI_THROW_IF_FAILED(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, data, &f), Napi::Value());
    k.Set(name, Napi::Value(env, f));
  }
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
