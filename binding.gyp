{
  "targets": [
    {
      "target_name": "multitask_native",
      "sources": [
        "src/kernels/native/addon.cc",
        "src/kernels/native/common.cc",
        "src/kernels/native/losses.cc",
        "src/kernels/native/gather.cc",
        "src/kernels/native/isa_scalar.cc",
        "src/kernels/native/isa_avx2.cc",
        "src/kernels/native/isa_avx512.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O0", "-O2", "-fno-omit-frame-pointer"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-O0", "-O2"],
      "cflags": ["-O3", "-fno-math-errno", "-fvisibility=hidden"],
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-fno-math-errno", "-fvisibility=hidden", "-Wno-psabi"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/O2", "/std:c++17"] }
      }
    }
  ]
}
