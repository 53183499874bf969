{
  "variables": {
    # node-addon-api's type checks: Value::As<T>() on a value of another type
    # aborts the process, naming the type expected, instead of handing on a
    # default (0, false, an empty string) to the system call. On only where
    # the test suite sits beside this file (npm ci / npm run build:native in
    # the project: build/Release, the build the tests load); off in what users
    # run (the packed tarball and scripts/build/prebuild.sh's copy hold no test/),
    # where an abort would take PID 1 down. Either way: node-gyp rebuild
    # --tsinit_type_checks=0|1.
    "tsinit_type_checks%": "<!(node -p \"require('fs').existsSync('test') ? 1 : 0\")"
  },
  "targets": [
    {
      "target_name": "tsinit",
      "sources": ["native/tsinit.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "conditions": [
        ["tsinit_type_checks==1", { "defines": ["NODE_ADDON_API_ENABLE_TYPE_CHECK_ON_AS"] }]
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      # bin/tsinit's step before Node: blocks every signal, execs Node with
      # the addon above preloaded (native/launch.c). Plain C, nothing from Node.
      "target_name": "tsinit-launch",
      "type": "executable",
      "sources": ["native/launch.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra"]
    }
  ]
}
