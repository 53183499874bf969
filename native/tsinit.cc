// tsinit's native core: only what JavaScript cannot do.
//
//   spawn        posix_spawnp with an exact child state (own process group,
//                terminal foreground, empty mask, every disposition default);
//                fork where an older libc's posix_spawn lacks a step
//   signals      uv_signal_t watchers on the main loop, plus a siginfo-aware
//                SIGPIPE handler that ignores the SIGPIPEs our own writes raise
//   reaping      waitpid(-1) for the CLI, waitpid(pid) for owned children, and a
//                list of the pids libuv owns so a library reaper never steals
//   process      prctl (subreaper, parent-death signal), process groups, the tty
//   tryWrite     a write that never blocks, without O_NONBLOCK on a shared
//                file description (for the log: stderr is the child's too)
//
// Every input is validated and normalised by the TypeScript layer first
// (src/native.ts); this file trusts its arguments' types and reports every
// failing syscall as an Error carrying `code` (the errno name), `errno` and
// `syscall`.

#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

extern char** environ;

namespace {

#ifndef SYS_close_range
#define SYS_close_range 436  // the same number on every Linux architecture
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

constexpr int kMaxSignal = 64;

// The libc extensions tsinit uses when present, looked up at run time so that
// one binary runs on every glibc from 2.28 on (and on musl): a newer glibc
// offers them (addchdir_np 2.29, strerrorname_np 2.32, addclosefrom_np 2.34,
// addtcsetpgrp_np 2.35); without one, Spawn and ErrnoError take a fallback
// with the same guarantees. Binding them at link time would make the addon
// refuse to load on an older glibc.
struct OptionalLibc {
  int (*addtcsetpgrp_np)(posix_spawn_file_actions_t*, int) = nullptr;
  int (*addclosefrom_np)(posix_spawn_file_actions_t*, int) = nullptr;
  int (*addchdir_np)(posix_spawn_file_actions_t*, const char*) = nullptr;
  const char* (*strerrorname_np)(int) = nullptr;
};

template <typename Fn>
void LookUp(uv_lib_t* self, const char* name, Fn* fn) {
  void* sym = nullptr;
  if (uv_dlsym(self, name, &sym) == 0) *fn = reinterpret_cast<Fn>(sym);
}

OptionalLibc LookUpOptionalLibc() {
  OptionalLibc libc;
  // Internal, for tests only: TSINIT_NATIVE_NO_NP=1 at load time hides every
  // optional function, so the suite can run the fallbacks on a newer glibc.
  const char* off = getenv("TSINIT_NATIVE_NO_NP");
  if (off != nullptr && strcmp(off, "1") == 0) return libc;
  // The process's global symbols (dlopen(NULL) through libuv, which Node
  // exports): no dl* symbol version of our own to depend on.
  uv_lib_t self;
  if (uv_dlopen(nullptr, &self) != 0) {
    uv_dlclose(&self);
    return libc;
  }
  LookUp(&self, "posix_spawn_file_actions_addtcsetpgrp_np", &libc.addtcsetpgrp_np);
  LookUp(&self, "posix_spawn_file_actions_addclosefrom_np", &libc.addclosefrom_np);
  LookUp(&self, "posix_spawn_file_actions_addchdir_np", &libc.addchdir_np);
  LookUp(&self, "strerrorname_np", &libc.strerrorname_np);
  uv_dlclose(&self);  // the main program's handle: nothing is unloaded
  return libc;
}

// Looked up once per process, at the first addon load.
const OptionalLibc& Libc() {
  static const OptionalLibc libc = LookUpOptionalLibc();
  return libc;
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& detail = "") {
  std::string msg = std::string(syscall) + " failed: " + strerror(err);
  if (!detail.empty()) msg += " (" + detail + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  // Without strerrorname_np, src/native.ts derives `code` from `errno`.
  if (Libc().strerrorname_np != nullptr) {
    if (const char* name = Libc().strerrorname_np(err)) e.Set("code", Napi::String::New(env, name));
  }
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// Sets every signal 1..64 in `set`, including glibc's internal 32 and 33 that
// sigaddset refuses: posix_spawn would otherwise leave them ignored in the child.
void FillAllSignals(sigset_t* set) {
  sigemptyset(set);
  auto* words = reinterpret_cast<unsigned long*>(set);
  constexpr int bits = 8 * sizeof(unsigned long);
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    words[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
  }
}

struct Addon;

struct SignalWatcher {
  uv_signal_t handle;
  Addon* addon;
};

// The SIGPIPE path: libuv's handler cannot tell who sent a signal, and a
// SIGPIPE raised by tsinit's own write to a closed pipe must not be forwarded.
std::atomic<uint32_t> g_pipe_pending{0};
uv_async_t* g_pipe_async = nullptr;

void OnSigpipe(int, siginfo_t* info, void*) {
  // The kernel's EPIPE SIGPIPE names the writer itself as sender.
  if (info != nullptr && info->si_code == SI_USER && info->si_pid == getpid()) return;
  g_pipe_pending.fetch_add(1);
  if (g_pipe_async != nullptr) uv_async_send(g_pipe_async);  // async-signal-safe
}

// Start-up signals: between Node's start and the signal watchers, a handler
// that only records which signals arrived (one bit each, lock-free, so
// async-signal-safe), for the CLI to hand on to the child once it runs.
std::atomic<uint64_t> g_recorded{0};

void OnRecord(int sig, siginfo_t*, void*) {
  if (sig >= 1 && sig <= kMaxSignal) g_recorded.fetch_or(uint64_t{1} << (sig - 1));
}

// The resources spawn can set in the child, in the order of its `limits` argument.
constexpr int kLimitResources[] = {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_AS};
constexpr int kLimitCount = 3;

struct Addon : public Napi::Addon<Addon> {
  Napi::FunctionReference on_signal;
  // By signal number. A plain table: gcc 12's std::unordered_map would need
  // GLIBCXX_3.4.29 (std::__throw_bad_array_new_length), above Node 20's floor.
  SignalWatcher* watchers[kMaxSignal + 1] = {};
  uv_loop_t* loop = nullptr;
  bool pipe_watched = false;

  Addon(Napi::Env env, Napi::Object exports) {
    napi_get_uv_event_loop(env, &loop);
    Libc();  // the environment switch is read now, at load
    DefineAddon(exports, {
        InstanceMethod("spawn", &Addon::Spawn),
        InstanceMethod("setSignalHandler", &Addon::SetSignalHandler),
        InstanceMethod("watchSignal", &Addon::WatchSignal),
        InstanceMethod("unwatchSignal", &Addon::UnwatchSignal),
        InstanceMethod("reapAny", &Addon::ReapAny),
        InstanceMethod("reapPid", &Addon::ReapPid),
        InstanceMethod("libuvChildPids", &Addon::LibuvChildPids),
        InstanceMethod("setSubreaper", &Addon::SetSubreaper),
        InstanceMethod("isSubreaper", &Addon::IsSubreaper),
        InstanceMethod("setPdeathsig", &Addon::SetPdeathsig),
        InstanceMethod("getpgid", &Addon::Getpgid),
        InstanceMethod("tcgetpgrp", &Addon::Tcgetpgrp),
        InstanceMethod("tcsetpgrp", &Addon::Tcsetpgrp),
        InstanceMethod("kill", &Addon::Kill),
        InstanceMethod("execve", &Addon::Execve),
        InstanceMethod("exitNow", &Addon::ExitNow),
        InstanceMethod("pipe", &Addon::Pipe),
        InstanceMethod("tryWrite", &Addon::TryWrite),
        InstanceMethod("claimSignals", &Addon::ClaimSignals),
        InstanceMethod("takeRecordedSignals", &Addon::TakeRecordedSignals),
    });
  }

  // ---- spawn -------------------------------------------------------------

  // spawn(file, argv, envp, cwd|null, pgroup, foreground, [fd0, fd1, fd2], keep, pidEnv|null, [nofile, nproc, as]?) -> pid
  // file, argv and envp entries are Buffers (exact bytes) or strings (UTF-8).
  // An fd of -1 leaves that descriptor closed in the child. `keep` lists
  // descriptors > 2 the child inherits at the same number (closed ones are
  // skipped); every other descriptor > 2 is closed. `pidEnv` names an
  // environment variable the child finds set to its own pid (the name must
  // not be in envp); only the fork path can write it, after fork. The limits
  // are soft limits for the child (-1: inherited as they are); setting any
  // takes the fork path, whose child calls setrlimit before exec (posix_spawn
  // has no such step, and prlimit from here would race with the child's exec).
  Napi::Value Spawn(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string file = ToBytes(info[0]);
    std::vector<std::string> argv_s = ToStrings(info[1].As<Napi::Array>());
    std::vector<std::string> envp_s = ToStrings(info[2].As<Napi::Array>());
    std::string cwd = info[3].IsString() || info[3].IsBuffer() ? ToBytes(info[3]) : "";
    bool pgroup = info[4].As<Napi::Boolean>();
    bool foreground = info[5].As<Napi::Boolean>();
    Napi::Array stdio = info[6].As<Napi::Array>();
    int fds[3];
    for (uint32_t i = 0; i < 3; i++) fds[i] = stdio.Get(i).As<Napi::Number>().Int32Value();
    std::vector<int> keep;
    if (info.Length() > 7 && info[7].IsArray()) {
      Napi::Array k = info[7].As<Napi::Array>();
      for (uint32_t i = 0; i < k.Length(); i++) {
        int fd = k.Get(i).As<Napi::Number>().Int32Value();
        if (fd > 2 && fcntl(fd, F_GETFD) != -1) keep.push_back(fd);  // closed: stays closed
      }
    }
    // The slot the fork path fills with "NAME=<child pid>": room for any pid.
    std::string pid_env;
    if (info.Length() > 8 && info[8].IsString()) {
      pid_env = info[8].As<Napi::String>().Utf8Value() + "=";
      pid_env.append(24, '\0');
    }
    double limits[kLimitCount] = {-1, -1, -1};
    bool any_limit = false;
    if (info.Length() > 9 && info[9].IsArray()) {
      Napi::Array a = info[9].As<Napi::Array>();
      for (uint32_t i = 0; i < kLimitCount && i < a.Length(); i++) {
        limits[i] = a.Get(i).As<Napi::Number>().DoubleValue();
        if (limits[i] >= 0) any_limit = true;
      }
    }

    std::vector<char*> argv = ToPointers(argv_s);
    std::vector<char*> envp = ToPointers(envp_s);
    if (!pid_env.empty()) envp.insert(envp.end() - 1, &pid_env[0]);

    // posix_spawn when libc can do every step inside it, else fork.
    const OptionalLibc& libc = Libc();
    bool by_fork = (foreground && libc.addtcsetpgrp_np == nullptr) || (!cwd.empty() && libc.addchdir_np == nullptr) ||
                   !pid_env.empty() || any_limit;
    pid_t pid = -1;
    int err = by_fork ? SpawnFork(file, argv.data(), envp.data(), cwd, pgroup, foreground, fds, keep, pid_env, limits, &pid)
                      : SpawnPosix(file, argv.data(), envp.data(), cwd, pgroup, foreground, fds, keep, &pid);
    if (err != 0) {
      ErrnoError(env, err, "posix_spawnp", file).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, pid);
  }

  // A Buffer's bytes as they are, or a string's UTF-8.
  static std::string ToBytes(Napi::Value v) {
    if (v.IsBuffer()) {
      Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
      return std::string(b.Data(), b.Length());
    }
    return v.As<Napi::String>().Utf8Value();
  }

  static std::vector<std::string> ToStrings(Napi::Array a) {
    std::vector<std::string> out;
    out.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ToBytes(a.Get(i)));
    return out;
  }

  static std::vector<char*> ToPointers(std::vector<std::string>& v) {
    std::vector<char*> out;
    out.reserve(v.size() + 1);
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
  }

  static bool Contains(const std::vector<int>& v, int x) {
    for (int y : v) {
      if (y == x) return true;
    }
    return false;
  }

  static int SpawnPosix(const std::string& file, char** argv, char** envp, const std::string& cwd,
                        bool pgroup, bool foreground, const int fds[3], const std::vector<int>& keep, pid_t* pid) {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    int err = posix_spawnattr_init(&attr);
    if (err != 0) return err;
    err = posix_spawn_file_actions_init(&fa);
    if (err != 0) {
      posix_spawnattr_destroy(&attr);
      return err;
    }

    sigset_t all, none;
    FillAllSignals(&all);
    sigemptyset(&none);
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (pgroup) flags |= POSIX_SPAWN_SETPGROUP;
    if (err == 0) err = posix_spawnattr_setflags(&attr, flags);
    if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
    if (err == 0) err = posix_spawnattr_setsigmask(&attr, &none);
    if (err == 0 && pgroup) err = posix_spawnattr_setpgroup(&attr, 0);

    // Node marks 0..2 close-on-exec, and the kept descriptors too. A dup2
    // onto the number in the child clears the flag there only. dup2(fd, fd)
    // does that from glibc 2.29 on (a no-op before), so the child's copy is
    // dup2'd from a close-on-exec duplicate made here, closed after the spawn.
    std::vector<int> temps;
    auto inherit = [&](int src, int target) {
      if (src != target) return posix_spawn_file_actions_adddup2(&fa, src, target);
      int tmp = fcntl(src, F_DUPFD_CLOEXEC, 3);
      if (tmp < 0) return errno;
      temps.push_back(tmp);
      return posix_spawn_file_actions_adddup2(&fa, tmp, target);
    };
    for (int target = 0; target < 3 && err == 0; target++) {
      int src = fds[target];
      if (src < 0 || fcntl(src, F_GETFD) == -1) continue;  // closed: stays closed
      err = inherit(src, target);
    }
    int top = 2;
    for (size_t i = 0; i < keep.size() && err == 0; i++) {
      err = inherit(keep[i], keep[i]);
      if (keep[i] > top) top = keep[i];
    }
    // Nothing else is inherited: descriptors >= 3 are closed (above the last
    // kept one as a range when libc can; below it, and everywhere when it
    // cannot, those of the caller without close-on-exec).
    const OptionalLibc& libc = Libc();
    bool by_range = libc.addclosefrom_np != nullptr;
    if (err == 0 && by_range) err = libc.addclosefrom_np(&fa, top + 1);
    if (err == 0 && (!by_range || top > 2)) {
      std::vector<int> leaks;
      InheritableFds(&leaks);
      for (size_t i = 0; i < leaks.size() && err == 0; i++) {
        if (Contains(keep, leaks[i]) || (by_range && leaks[i] > top)) continue;
        err = posix_spawn_file_actions_addclose(&fa, leaks[i]);
      }
    }
    // Spawn sends cwd and foreground here only when these exist.
    if (err == 0 && !cwd.empty()) err = libc.addchdir_np(&fa, cwd.c_str());
    if (err == 0 && foreground) err = libc.addtcsetpgrp_np(&fa, 0);
    if (err == 0) err = posix_spawnp(pid, file.c_str(), &fa, &attr, argv, envp);

    for (int tmp : temps) close(tmp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return err;
  }

  // The descriptors >= 3 a child would inherit (no FD_CLOEXEC), read from
  // /proc/self/fd; without /proc, every number below the soft RLIMIT_NOFILE
  // is probed. Node and libuv open everything close-on-exec, so this finds
  // only what tsinit itself inherited.
  static void InheritableFds(std::vector<int>* out) {
    auto inheritable = [](int fd) {
      int flags = fcntl(fd, F_GETFD);
      return flags >= 0 && (flags & FD_CLOEXEC) == 0;
    };
    if (DIR* dir = opendir("/proc/self/fd")) {
      int own = dirfd(dir);
      while (struct dirent* entry = readdir(dir)) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        int fd = atoi(entry->d_name);
        if (fd >= 3 && fd != own && inheritable(fd)) out->push_back(fd);
      }
      closedir(dir);
      return;
    }
    struct rlimit rl;
    rlim_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    if (limit > (1 << 20)) limit = 1 << 20;  // the kernel's default fs.nr_open
    for (int fd = 3; static_cast<rlim_t>(fd) < limit; fd++) {
      if (inheritable(fd)) out->push_back(fd);
    }
  }

  // Writes "<pid>" after the '=' of `slot` ("NAME=" and room for the digits).
  // Async-signal-safe: the fork path's child calls it before exec.
  static void WritePid(char* slot, pid_t pid) {
    char* p = slot;
    while (*p != '=') p++;
    p++;
    char digits[24];
    int n = 0;
    unsigned long v = static_cast<unsigned long>(pid);
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0 && n < 23);
    while (n > 0) *p++ = digits[--n];
    *p = '\0';
  }

  // The fork path, for what this libc's posix_spawn cannot do: make the child
  // the terminal's foreground group (glibc < 2.35, musl), change its
  // directory (glibc < 2.29), give it an environment variable holding its
  // own pid (known only once it exists), or give it other soft resource
  // limits. Signals stay blocked from before fork until the child's exec; an
  // exec error travels back through a close-on-exec pipe. Between fork and
  // exec the child calls async-signal-safe functions only.
  static int SpawnFork(const std::string& file, char** argv, char** envp, const std::string& cwd,
                       bool pgroup, bool foreground, const int fds[3], const std::vector<int>& keep,
                       std::string& pid_env, const double limits[kLimitCount], pid_t* pid) {
    std::vector<int> leaks;  // for a kernel without close_range (< 5.11)
    InheritableFds(&leaks);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return errno;
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);  // this thread's mask on Linux
    pid_t child = fork();
    if (child == 0) {
      // Every disposition default, through the raw system call: glibc's
      // sigaction refuses its internal signals 32 and 33, which may have been
      // inherited ignored. A zeroed kernel sigaction (the largest layout,
      // x86-64's) is SIG_DFL, no flags, an empty mask.
      unsigned long dfl[4] = {0, 0, 0, 0};
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sa.sa_handler = SIG_DFL;
      for (int sig = 1; sig <= kMaxSignal; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        if (syscall(SYS_rt_sigaction, sig, dfl, nullptr, kMaxSignal / 8) != 0) sigaction(sig, &sa, nullptr);
      }
      int e = 0;
      if (pgroup && setpgid(0, 0) != 0) e = errno;
      for (int target = 0; target < 3 && e == 0; target++) {
        int src = fds[target];
        if (src < 0 || fcntl(src, F_GETFD) == -1) continue;  // closed: stays closed
        if (src == target) {
          if (fcntl(target, F_SETFD, 0) != 0) e = errno;
        } else if (dup2(src, target) < 0) {
          e = errno;
        }
      }
      // SIGTTOU is still blocked: a background group may take the terminal.
      if (e == 0 && foreground && tcsetpgrp(0, getpgrp()) != 0) e = errno;
      if (e == 0 && syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        for (size_t i = 0; i < leaks.size(); i++) {
          if (leaks[i] != pipefd[1] && !Contains(keep, leaks[i])) close(leaks[i]);
        }
      }
      // The kept descriptors stay open across exec, at the same number.
      for (size_t i = 0; i < keep.size() && e == 0; i++) {
        if (fcntl(keep[i], F_SETFD, 0) != 0) e = errno;
      }
      if (!pid_env.empty()) WritePid(&pid_env[0], getpid());
      if (e == 0 && !cwd.empty() && chdir(cwd.c_str()) != 0) e = errno;
      for (int i = 0; i < kLimitCount && e == 0; i++) {
        if (limits[i] < 0) continue;
        struct rlimit rl;
        if (getrlimit(kLimitResources[i], &rl) != 0) {
          e = errno;
          break;
        }
        rlim_t soft = static_cast<rlim_t>(limits[i]);
        rl.rlim_cur = soft < rl.rlim_max ? soft : rl.rlim_max;
        if (setrlimit(kLimitResources[i], &rl) != 0) e = errno;
      }
      if (e == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execvpe(file.c_str(), argv, envp);
        e = errno;
      }
      ssize_t ignored = write(pipefd[1], &e, sizeof e);
      (void)ignored;
      _exit(127);
    }
    int fork_err = child < 0 ? errno : 0;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    close(pipefd[1]);
    if (fork_err != 0) {
      close(pipefd[0]);
      return fork_err;
    }
    int child_err = 0;
    ssize_t n;
    do {
      n = read(pipefd[0], &child_err, sizeof child_err);
    } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == sizeof child_err) {
      int st;
      while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
      }
      return child_err;
    }
    *pid = child;
    return 0;
  }

  // ---- signals -----------------------------------------------------------

  // setSignalHandler(fn): fn(signum) runs on the main thread for every watched signal.
  Napi::Value SetSignalHandler(const Napi::CallbackInfo& info) {
    on_signal = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }

  void Deliver(int signum) {
    if (on_signal.IsEmpty()) return;
    Napi::Env env = on_signal.Env();
    Napi::HandleScope scope(env);
    on_signal.MakeCallback(env.Global(), {Napi::Number::New(env, signum)});
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
  }

  static void OnUvSignal(uv_signal_t* handle, int signum) {
    auto* w = reinterpret_cast<SignalWatcher*>(handle->data);
    w->addon->Deliver(signum);
  }

  static void OnPipeAsync(uv_async_t* handle) {
    auto* addon = reinterpret_cast<Addon*>(handle->data);
    uint32_t n = g_pipe_pending.exchange(0);
    while (n-- > 0) addon->Deliver(SIGPIPE);
  }

  // watchSignal(signum, keepAlive): keepAlive=false lets the process exit while watching.
  Napi::Value WatchSignal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int signum = info[0].As<Napi::Number>().Int32Value();
    bool keep_alive = info[1].As<Napi::Boolean>();
    if (signum == SIGPIPE) return WatchSigpipe(env, keep_alive);
    if (signum < 1 || signum > kMaxSignal) {
      ErrnoError(env, EINVAL, "uv_signal_start", "signal " + std::to_string(signum)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (watchers[signum] != nullptr) {
      SetRef(reinterpret_cast<uv_handle_t*>(&watchers[signum]->handle), keep_alive);
      return env.Undefined();
    }
    auto* w = new SignalWatcher();
    w->addon = this;
    w->handle.data = w;
    int rc = uv_signal_init(loop, &w->handle);
    if (rc == 0) rc = uv_signal_start(&w->handle, OnUvSignal, signum);
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), FreeWatcher);
      ErrnoError(env, -rc, "uv_signal_start", "signal " + std::to_string(signum)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    SetRef(reinterpret_cast<uv_handle_t*>(&w->handle), keep_alive);
    watchers[signum] = w;
    WidenSignalPipe();
    UnblockInThisThread(signum);
    return env.Undefined();
  }

  // A watched signal must be deliverable to the loop's thread. Node may have
  // blocked it there: with --disable-sigusr1 (Node >= 22.14) the main thread
  // starts with SIGUSR1 blocked, so a SIGUSR1 sent during start-up stays
  // pending instead of opening the inspector, and arrives here once unblocked.
  static void UnblockInThisThread(int signum) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signum);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);  // the calling thread's mask on Linux
  }

  // libuv's signal handler writes one 16-byte message per delivery into the
  // loop's signal pipe and drops it when the pipe is full. Real-time signals
  // queue in the kernel, so a burst while the loop is busy can overflow a
  // small pipe (a root over pipe-user-pages-soft gets 2 pages). A larger
  // pipe costs nothing until it fills.
  bool pipe_widened = false;
  void WidenSignalPipe() {
    if (pipe_widened || loop->signal_pipefd[1] < 0) return;
    pipe_widened = true;
    // Best effort, largest first: unprivileged callers are capped by pipe-max-size.
    for (int size : {1 << 20, 1 << 18, 1 << 16}) {
      if (fcntl(loop->signal_pipefd[1], F_SETPIPE_SZ, size) >= 0) break;
    }
  }

  Napi::Value WatchSigpipe(Napi::Env env, bool keep_alive) {
    if (g_pipe_async == nullptr) {
      g_pipe_async = new uv_async_t();
      g_pipe_async->data = this;
      uv_async_init(loop, g_pipe_async, OnPipeAsync);
    }
    SetRef(reinterpret_cast<uv_handle_t*>(g_pipe_async), keep_alive);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigpipe;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, nullptr) != 0) {
      ErrnoError(env, errno, "sigaction", "SIGPIPE").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    pipe_watched = true;
    return env.Undefined();
  }

  static void SetRef(uv_handle_t* h, bool keep_alive) {
    if (keep_alive) {
      uv_ref(h);
    } else {
      uv_unref(h);
    }
  }

  static void FreeWatcher(uv_handle_t* h) { delete reinterpret_cast<SignalWatcher*>(h->data); }

  // claimSignals([signum, ...]) -> [previous, ...]: installs the recording
  // handler on each signal (replaced later by its watcher) and says what was
  // there before, read in the same sigaction call so nothing slips between:
  // 0 default, 1 ignored, 2 a handler, 3 a one-shot handler (SA_RESETHAND,
  // as Node installs for SIGINT and SIGTERM), -1 the C library refused.
  Napi::Value ClaimSignals(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array in = info[0].As<Napi::Array>();
    Napi::Array out = Napi::Array::New(env, in.Length());
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnRecord;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (uint32_t i = 0; i < in.Length(); i++) {
      int signum = in.Get(i).As<Napi::Number>().Int32Value();
      struct sigaction old;
      memset(&old, 0, sizeof old);
      int previous = -1;
      if (signum >= 1 && signum <= kMaxSignal && sigaction(signum, &sa, &old) == 0) {
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
          previous = 0;
        } else if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN) {
          previous = 1;
        } else {
          previous = (old.sa_flags & SA_RESETHAND) ? 3 : 2;
        }
      }
      out.Set(i, Napi::Number::New(env, previous));
    }
    return out;
  }

  // takeRecordedSignals() -> [signum, ...] caught by the recording handler
  // since the last call, ascending.
  Napi::Value TakeRecordedSignals(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t bits = g_recorded.exchange(0);
    std::vector<int> sigs;
    for (int sig = 1; sig <= kMaxSignal; sig++) {
      if (bits & (uint64_t{1} << (sig - 1))) sigs.push_back(sig);
    }
    Napi::Array arr = Napi::Array::New(env, sigs.size());
    for (size_t i = 0; i < sigs.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, sigs[i]));
    return arr;
  }

  // unwatchSignal(signum): the signal returns to the disposition Node expects:
  // SIGPIPE ignored, everything else default (libuv's behaviour on stop).
  Napi::Value UnwatchSignal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int signum = info[0].As<Napi::Number>().Int32Value();
    if (signum == SIGPIPE) {
      if (pipe_watched) {
        signal(SIGPIPE, SIG_IGN);
        pipe_watched = false;
        if (g_pipe_async != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(g_pipe_async));
      }
      return env.Undefined();
    }
    if (signum < 1 || signum > kMaxSignal || watchers[signum] == nullptr) return env.Undefined();
    uv_signal_stop(&watchers[signum]->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&watchers[signum]->handle), FreeWatcher);
    watchers[signum] = nullptr;
    return env.Undefined();
  }

  // ---- reaping -----------------------------------------------------------

  // Encodes one wait status as [kind, value]: kind 0 exited (value = code),
  // 1 killed (value = signal), 2 stopped (value = signal), 3 continued.
  static void Decode(int st, int* kind, int* value) {
    if (WIFEXITED(st)) {
      *kind = 0;
      *value = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
      *kind = 1;
      *value = WTERMSIG(st);
    } else if (WIFSTOPPED(st)) {
      *kind = 2;
      *value = WSTOPSIG(st);
    } else {
      *kind = 3;
      *value = SIGCONT;
    }
  }

  // reapAny() -> { events: [pid, kind, value, ...], more: boolean }
  // waitpid(-1) until nothing is ready. `more` is false when tsinit has no
  // children left at all (ECHILD). Only for a process that owns every child
  // (the CLI): it would steal the statuses of libuv's children.
  Napi::Value ReapAny(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<int> events;
    bool more = true;
    for (;;) {
      int st = 0;
      pid_t pid = waitpid(-1, &st, WNOHANG | WUNTRACED | WCONTINUED);
      if (pid > 0) {
        int kind, value;
        Decode(st, &kind, &value);
        events.push_back(pid);
        events.push_back(kind);
        events.push_back(value);
        continue;
      }
      if (pid < 0 && errno == EINTR) continue;
      if (pid < 0) more = false;  // ECHILD
      break;
    }
    Napi::Array arr = Napi::Array::New(env, events.size());
    for (size_t i = 0; i < events.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, events[i]));
    Napi::Object out = Napi::Object::New(env);
    out.Set("events", arr);
    out.Set("more", Napi::Boolean::New(env, more));
    return out;
  }

  // reapPid(pid, withStops) -> [kind, value] | null (still running) | undefined (not our child)
  Napi::Value ReapPid(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    bool with_stops = info[1].As<Napi::Boolean>();
    int st = 0;
    pid_t r;
    do {
      r = waitpid(pid, &st, WNOHANG | (with_stops ? (WUNTRACED | WCONTINUED) : 0));
    } while (r < 0 && errno == EINTR);
    if (r == 0) return env.Null();
    if (r < 0) return env.Undefined();
    int kind, value;
    Decode(st, &kind, &value);
    Napi::Array arr = Napi::Array::New(env, 2);
    arr.Set(0u, Napi::Number::New(env, kind));
    arr.Set(1u, Napi::Number::New(env, value));
    return arr;
  }

  // libuvChildPids() -> pids of the children libuv spawned (child_process) on this loop.
  Napi::Value LibuvChildPids(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<int> pids;
    uv_walk(
        loop,
        [](uv_handle_t* h, void* arg) {
          if (h->type == UV_PROCESS) {
            int pid = uv_process_get_pid(reinterpret_cast<uv_process_t*>(h));
            if (pid > 0) static_cast<std::vector<int>*>(arg)->push_back(pid);
          }
        },
        &pids);
    Napi::Array arr = Napi::Array::New(env, pids.size());
    for (size_t i = 0; i < pids.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, pids[i]));
    return arr;
  }

  // ---- process -----------------------------------------------------------

  Napi::Value SetSubreaper(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    unsigned long on = info[0].As<Napi::Boolean>() ? 1 : 0;
    if (prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) != 0) {
      ErrnoError(env, errno, "prctl(PR_SET_CHILD_SUBREAPER)").ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  Napi::Value IsSubreaper(const Napi::CallbackInfo& info) {
    int on = 0;
    prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0);
    return Napi::Boolean::New(info.Env(), on != 0);
  }

  // setPdeathsig(signum, expectedParent) -> false when the parent was already
  // gone (getppid() no longer the expected pid): the caller treats that as the
  // signal having arrived, closing the race between start-up and prctl.
  Napi::Value SetPdeathsig(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int signum = info[0].As<Napi::Number>().Int32Value();
    pid_t expected = info[1].As<Napi::Number>().Int32Value();
    if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(signum), 0, 0, 0) != 0) {
      ErrnoError(env, errno, "prctl(PR_SET_PDEATHSIG)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Boolean::New(env, getppid() == expected);
  }

  Napi::Value Getpgid(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    pid_t pgid = getpgid(info[0].As<Napi::Number>().Int32Value());
    if (pgid < 0) {
      ErrnoError(env, errno, "getpgid").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, pgid);
  }

  // tcgetpgrp(fd) -> pgid, or -1 when fd is not a terminal.
  Napi::Value Tcgetpgrp(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), tcgetpgrp(info[0].As<Napi::Number>().Int32Value()));
  }

  // tcsetpgrp(fd, pgid) -> boolean. SIGTTOU is blocked on this thread around
  // the call: a background caller would otherwise be stopped by it.
  Napi::Value Tcsetpgrp(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    pid_t pgid = info[1].As<Napi::Number>().Int32Value();
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    sigprocmask(SIG_BLOCK, &ttou, &old);  // this thread's mask on Linux
    int rc = tcsetpgrp(fd, pgid);
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return Napi::Boolean::New(info.Env(), rc == 0);
  }

  // kill(pid, signum) -> 0 or the errno (ESRCH is routine for an init).
  Napi::Value Kill(const Napi::CallbackInfo& info) {
    pid_t pid = info[0].As<Napi::Number>().Int32Value();
    int signum = info[1].As<Napi::Number>().Int32Value();
    int rc = kill(pid, signum);
    return Napi::Number::New(info.Env(), rc == 0 ? 0 : errno);
  }

  // exitNow(status): ends the process at once with _exit. For the CLI, whose
  // every write is synchronous: nothing is left to flush, and Node's teardown
  // (exit handlers, V8 and its platform threads) would add tens of ms between
  // the child's exit and the init's, which an orchestrator waits out.
  Napi::Value ExitNow(const Napi::CallbackInfo& info) {
    _exit(info[0].As<Napi::Number>().Int32Value() & 0xff);
  }

  // execve(path, argv, envp, keep?): replaces this process in place (same
  // pid), with 0..2 and the descriptors in `keep` inherited; Buffers or
  // strings as in spawn. Returns only on failure.
  Napi::Value Execve(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string path = ToBytes(info[0]);
    std::vector<std::string> argv_s = ToStrings(info[1].As<Napi::Array>());
    std::vector<std::string> envp_s = ToStrings(info[2].As<Napi::Array>());
    std::vector<char*> argv = ToPointers(argv_s);
    std::vector<char*> envp = ToPointers(envp_s);
    std::vector<int> inherit = {0, 1, 2};
    if (info.Length() > 3 && info[3].IsArray()) {
      Napi::Array k = info[3].As<Napi::Array>();
      for (uint32_t i = 0; i < k.Length(); i++) inherit.push_back(k.Get(i).As<Napi::Number>().Int32Value());
    }
    for (int fd : inherit) {
      int flags = fcntl(fd, F_GETFD);
      if (flags >= 0) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    execve(path.c_str(), argv.data(), envp.data());
    ErrnoError(env, errno, "execve", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // pipe() -> [readFd, writeFd], both close-on-exec (spawn dup2s the child's
  // end onto 0..2, which clears the flag there only).
  Napi::Value Pipe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      ErrnoError(env, errno, "pipe2").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Array arr = Napi::Array::New(env, 2);
    arr.Set(0u, Napi::Number::New(env, fds[0]));
    arr.Set(1u, Napi::Number::New(env, fds[1]));
    return arr;
  }

  // ---- a write that never blocks ------------------------------------------

  // A private pipe, both ends O_NONBLOCK (a description only tsinit has), that
  // relays writes to a FIFO: splice(SPLICE_F_NONBLOCK) from it into the FIFO
  // fails with EAGAIN instead of waiting for room, checked under the FIFO's
  // lock, so a writer sharing the FIFO (the child) cannot take the room
  // between a check and the write. -1: not made yet; -2: unusable.
  int relay[2] = {-1, -1};

  // tryWrite(fd, buffer) -> bytes written (maybe fewer than asked), or -errno
  // (-EAGAIN: it would have blocked). Never blocks and never changes fd's file
  // status flags (the description is shared with the child):
  //   socket      send(MSG_DONTWAIT | MSG_NOSIGNAL)
  //   FIFO/pipe   through the relay pipe with splice(SPLICE_F_NONBLOCK)
  //   other       poll(POLLOUT, 0), then write at most PIPE_BUF bytes (a tty,
  //               a regular file, a character device)
  // Pipes and others get at most PIPE_BUF bytes per call: a line that short
  // fits in the room poll or splice saw. EINTR is reported as EAGAIN.
  Napi::Value TryWrite(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
    ssize_t n = WriteNow(fd, buf.Data(), buf.Length());
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  static ssize_t Failed() { return errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno; }

  ssize_t WriteNow(int fd, const uint8_t* data, size_t len) {
    if (len == 0) return 0;
    ssize_t n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno != ENOTSOCK) return Failed();
    if (len > PIPE_BUF) len = PIPE_BUF;
    // A pipe or FIFO is what F_GETPIPE_SZ accepts (fstat would bind the addon
    // to glibc 2.33's fstat64).
    if (fcntl(fd, F_GETPIPE_SZ) > 0) {
      ssize_t r = SpliceNow(fd, data, len);
      if (r != -ENOSYS) return r;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int ready = poll(&p, 1, 0);
    if (ready < 0) return Failed();
    if (ready == 0) return -EAGAIN;
    if (p.revents & POLLNVAL) return -EBADF;
    n = write(fd, data, len);
    return n >= 0 ? n : Failed();
  }

  // The FIFO path; -ENOSYS when the relay cannot be used (the caller then
  // falls back to poll and write).
  ssize_t SpliceNow(int fd, const uint8_t* data, size_t len) {
    if (relay[0] == -2) return -ENOSYS;
    if (relay[0] == -1 && pipe2(relay, O_NONBLOCK | O_CLOEXEC) != 0) {
      relay[0] = relay[1] = -2;
      return -ENOSYS;
    }
    ssize_t in = write(relay[1], data, len);  // the relay is empty: PIPE_BUF fits
    if (in <= 0) return -ENOSYS;
    ssize_t out = splice(relay[0], nullptr, fd, nullptr, static_cast<size_t>(in), SPLICE_F_NONBLOCK);
    int err = errno;
    if (out < in) {
      uint8_t sink[PIPE_BUF];
      while (read(relay[0], sink, sizeof sink) > 0) {
      }  // what did not go out is dropped, not sent later
    }
    if (out >= 0) return out;
    if (err == EINVAL || err == ENOSYS) {
      close(relay[0]);
      close(relay[1]);
      relay[0] = relay[1] = -2;
      return -ENOSYS;
    }
    errno = err;
    return Failed();
  }
};

}  // namespace

NODE_API_ADDON(Addon)
