/* kcli-probe: kubelet's probes, run by dockerd's healthcheck in the pause container (the pod's
 * network namespace, and, for pods with liveness or exec probes, its PID namespace, which the app
 * containers join), so the app image needs no shell, curl or wget.
 *
 *   kcli-probe STATEFILE  KIND CONTAINER TYPE PORT PATH TIMEOUT PERIOD DELAY SUCCESS FAILURE HEADERS  [...]
 *
 * Each probe is 11 words: KIND r(eadiness)|s(tartup)|l(iveness); TYPE http|tcp|exec; PATH and
 * HEADERS ("Name: value" lines) for http ("-" when none); for exec, PATH is the command, its
 * words separated by \x1f. Docker runs this every second; each probe runs when due (after DELAY,
 * every PERIOD seconds) and keeps its consecutive successes and failures in STATEFILE.
 * A container is ready once its startup probe succeeded (if any) and its readiness probe has
 * SUCCESS consecutive successes, until FAILURE consecutive failures. FAILURE consecutive liveness
 * (or startup) failures kill the container's processes (found by KCLI_CONTAINER=<name> in their
 * environment), so docker restarts it per its restart policy; its probes start over. An exec probe
 * runs the command inside the container's root (chroot to /proc/PID/root) with its environment.
 * Prints one line (per container: ready or not, the last failure, restarts done) and exits 0 only
 * when every probed container is ready.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXP 32
#define WORDS 11

struct probe {
  char kind, container[128], type[8], path[2048], headers[2048];
  int port, timeout, period, delay, success, failure;
};
struct st { double first, last; int ok, bad, ready, done, killed; };  /* done: startup succeeded */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int connect_to(int port, int timeout, char *why, size_t n) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) { snprintf(why, n, "socket: %s", strerror(errno)); return -1; }
  fcntl(fd, F_SETFL, O_NONBLOCK);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    snprintf(why, n, "dial tcp 127.0.0.1:%d: %s", port, strerror(errno)); close(fd); return -1;
  }
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  if (poll(&p, 1, timeout * 1000) <= 0) {
    snprintf(why, n, "dial tcp 127.0.0.1:%d: i/o timeout", port); close(fd); return -1;
  }
  int err = 0; socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) { snprintf(why, n, "dial tcp 127.0.0.1:%d: %s", port, strerror(err)); close(fd); return -1; }
  fcntl(fd, F_SETFL, 0);
  return fd;
}

/* the container's processes: KCLI_CONTAINER=<name> in their environment; returns how many */
static int pids_of(const char *container, int *out, int max) {
  char want[192];
  int wn = snprintf(want, sizeof want, "KCLI_CONTAINER=%s", container), k = 0;
  DIR *d = opendir("/proc");
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)) && k < max) {
    int pid = atoi(e->d_name);
    if (pid <= 1 || pid == getpid()) continue;
    char path[64], env[8192];
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    ssize_t len = read(fd, env, sizeof env - 1);
    close(fd);
    for (ssize_t i = 0; i < len; i += strlen(env + i) + 1) {
      env[len] = 0;
      if (strncmp(env + i, want, wn) == 0 && env[i + wn] == 0) { out[k++] = pid; break; }
    }
  }
  closedir(d);
  return k;
}

static int run_exec(struct probe *p, char *why, size_t n) {
  int pids[64], np = pids_of(p->container, pids, 64);
  if (np == 0) { snprintf(why, n, "container %s is not running", p->container); return 0; }
  int target = pids[0];
  for (int i = 1; i < np; i++) if (pids[i] < target) target = pids[i];
  char *argv[64]; int argc = 0;
  for (char *w = strtok(p->path, "\x1f"); w && argc < 63; w = strtok(NULL, "\x1f")) argv[argc++] = w;
  argv[argc] = NULL;
  if (argc == 0) { snprintf(why, n, "exec probe without a command"); return 0; }
  static char envbuf[16384];
  char *envp[256]; int ne = 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/environ", target);
  int fd = open(path, O_RDONLY);
  ssize_t len = fd >= 0 ? read(fd, envbuf, sizeof envbuf - 1) : 0;
  if (fd >= 0) close(fd);
  if (len < 0) len = 0;
  envbuf[len] = 0;
  for (ssize_t i = 0; i < len && ne < 255; i += strlen(envbuf + i) + 1) envp[ne++] = envbuf + i;
  envp[ne] = NULL;
  int out[2];
  if (pipe(out) < 0) { snprintf(why, n, "pipe: %s", strerror(errno)); return 0; }
  pid_t child = fork();
  if (child == 0) {
    char root[64];
    snprintf(root, sizeof root, "/proc/%d/root", target);
    dup2(out[1], 1); dup2(out[1], 2); close(out[0]);
    if (chroot(root) < 0 || chdir("/") < 0) { printf("chroot: %s", strerror(errno)); _exit(126); }
    for (int i = 0; envp[i]; i++) putenv(envp[i]);
    execvp(argv[0], argv);
    printf("exec %s: %s", argv[0], strerror(errno));
    _exit(127);
  }
  close(out[1]);
  char buf[256] = {0};
  size_t got = 0;
  double end = now() + p->timeout;
  int status = 0, done = 0;
  while (!done) {
    struct pollfd pf = {.fd = out[0], .events = POLLIN};
    int left = (int)((end - now()) * 1000);
    if (left <= 0) break;
    if (poll(&pf, 1, left > 100 ? 100 : left) > 0) {
      ssize_t r = read(out[0], buf + got, sizeof buf - 1 - got);
      if (r > 0) got += r;
    }
    if (waitpid(child, &status, WNOHANG) == child) done = 1;
  }
  close(out[0]);
  if (!done) { kill(child, SIGKILL); waitpid(child, NULL, 0); snprintf(why, n, "command timed out after %ds", p->timeout); return 0; }
  for (char *c = buf; *c; c++) if (*c == '\n' || *c == '"') *c = ' ';
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 1;
  snprintf(why, n, "command exited with %d: %s", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), buf);
  return 0;
}

static void kill_container(const char *container) {
  int pids[256], np = pids_of(container, pids, 256);
  for (int i = 0; i < np; i++) kill(pids[i], SIGKILL);
}

/* 1 on success; why holds kubelet's failure wording */
static int run(struct probe *p, char *why, size_t n) {
  if (strcmp(p->type, "exec") == 0) {
    char saved[sizeof p->path];
    memcpy(saved, p->path, sizeof saved);
    int ok = run_exec(p, why, n);
    memcpy(p->path, saved, sizeof saved);
    return ok;
  }
  int fd = connect_to(p->port, p->timeout, why, n);
  if (fd < 0) return 0;
  if (strcmp(p->type, "tcp") == 0) { close(fd); return 1; }
  char req[4096];
  int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: kube-probe/1.34\r\n"
                     "Accept: */*\r\nConnection: close\r\n%s\r\n", p->path, p->port, p->headers);
  struct timeval tv = {.tv_sec = p->timeout};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (write(fd, req, len) != len) { snprintf(why, n, "write: %s", strerror(errno)); close(fd); return 0; }
  char buf[256] = {0};
  ssize_t got = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (got <= 0) { snprintf(why, n, "Get \"http://127.0.0.1:%d%s\": %s", p->port, p->path, got ? strerror(errno) : "EOF"); return 0; }
  int code = 0;
  if (sscanf(buf, "HTTP/%*s %d", &code) != 1) { snprintf(why, n, "malformed HTTP response"); return 0; }
  if (code >= 200 && code < 400) return 1;
  snprintf(why, n, "HTTP probe failed with statuscode: %d", code);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || (argc - 2) % WORDS != 0 || (argc - 2) / WORDS > MAXP) {
    fprintf(stderr, "usage: kcli-probe STATEFILE (KIND CONTAINER TYPE PORT PATH TIMEOUT PERIOD DELAY SUCCESS FAILURE HEADERS)...\n");
    return 2;
  }
  int np = (argc - 2) / WORDS;
  struct probe pr[MAXP];
  struct st s[MAXP];
  memset(s, 0, sizeof s);
  for (int i = 0; i < np; i++) {
    char **w = argv + 2 + i * WORDS;
    pr[i].kind = w[0][0];
    snprintf(pr[i].container, sizeof pr[i].container, "%s", w[1]);
    snprintf(pr[i].type, sizeof pr[i].type, "%s", w[2]);
    pr[i].port = atoi(w[3]);
    snprintf(pr[i].path, sizeof pr[i].path, "%s", strcmp(w[4], "-") ? w[4] : "/");
    pr[i].timeout = atoi(w[5]) > 0 ? atoi(w[5]) : 1;
    pr[i].period = atoi(w[6]) > 0 ? atoi(w[6]) : 10;
    pr[i].delay = atoi(w[7]);
    pr[i].success = atoi(w[8]) > 0 ? atoi(w[8]) : 1;
    pr[i].failure = atoi(w[9]) > 0 ? atoi(w[9]) : 3;
    pr[i].headers[0] = 0;
    if (strcmp(w[10], "-") != 0) {  /* "Name: value" lines → CRLF-terminated header lines */
      size_t o = 0;
      for (const char *c = w[10]; *c && o < sizeof pr[i].headers - 3; c++) {
        if (*c == '\n') { pr[i].headers[o++] = '\r'; pr[i].headers[o++] = '\n'; }
        else if (*c != '\r') pr[i].headers[o++] = *c;
      }
      pr[i].headers[o++] = '\r'; pr[i].headers[o++] = '\n'; pr[i].headers[o] = 0;
    }
  }
  FILE *f = fopen(argv[1], "r");
  if (f) { if (fread(s, sizeof s[0], np, f) != (size_t)np) memset(s, 0, sizeof s); fclose(f); }
  double t = now();
  char why[MAXP][512];
  for (int i = 0; i < np; i++) {
    why[i][0] = 0;
    if (s[i].first == 0) s[i].first = t;
    int startup_pending = 0;
    for (int j = 0; j < np; j++)
      if (j != i && pr[j].kind == 's' && strcmp(pr[j].container, pr[i].container) == 0 && !s[j].done) startup_pending = 1;
    if (pr[i].kind != 's' && startup_pending) { s[i].ready = 0; continue; }  /* startup gates the other two */
    if ((pr[i].kind == 's' && s[i].done) || t - s[i].first < pr[i].delay) continue;
    if (s[i].last != 0 && t - s[i].last < pr[i].period - 0.5) continue;
    s[i].last = t;
    if (run(&pr[i], why[i], sizeof why[i])) { s[i].ok++; s[i].bad = 0; }
    else { s[i].bad++; s[i].ok = 0; }
    if (pr[i].kind == 's') { if (s[i].ok >= 1) s[i].done = 1; }
    else if (pr[i].kind == 'r') { if (s[i].ok >= pr[i].success) s[i].ready = 1; else if (s[i].bad >= pr[i].failure) s[i].ready = 0; }
    if ((pr[i].kind == 'l' || pr[i].kind == 's') && s[i].bad >= pr[i].failure) {
      /* kubelet kills the container; docker's restart policy restarts it; its probes start over */
      kill_container(pr[i].container);
      int restarts = s[i].killed + 1;
      for (int j = 0; j < np; j++)
        if (strcmp(pr[j].container, pr[i].container) == 0) { memset(&s[j], 0, sizeof s[j]); s[j].first = s[j].last = t; }
      s[i].killed = restarts;
      snprintf(why[i] + strlen(why[i]), sizeof why[i] - strlen(why[i]), " (container killed: %s probe failed %d times)",
               pr[i].kind == 'l' ? "liveness" : "startup", pr[i].failure);
    }
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
  f = fopen(tmp, "w");
  if (f) { fwrite(s, sizeof s[0], np, f); fclose(f); rename(tmp, argv[1]); }
  int all = 1;
  printf("{\"containers\":{");
  int first = 1;
  for (int i = 0; i < np; i++) {
    int seen = 0;
    for (int j = 0; j < i; j++) if (strcmp(pr[j].container, pr[i].container) == 0) seen = 1;
    if (seen) continue;
    int ready = 1;
    const char *msg = "";
    for (int j = 0; j < np; j++) {
      if (strcmp(pr[j].container, pr[i].container) != 0) continue;
      if ((pr[j].kind == 'r' && !s[j].ready) || (pr[j].kind == 's' && !s[j].done)) ready = 0;
      if (why[j][0] && (s[j].bad > 0 || s[j].killed) && !strstr(msg, "container killed")) msg = why[j];
    }
    all &= ready;
    printf("%s\"%s\":{\"ready\":%s,\"failure\":\"", first ? "" : ",", pr[i].container, ready ? "true" : "false");
    for (const char *c = msg; *c; c++) printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
    printf("\"}");
    first = 0;
  }
  printf("}}\n");
  return all ? 0 : 1;
}
