package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/kernelci/kernelci-api-go/internal/model"
	"github.com/kernelci/kernelci-api-go/internal/objectid"
	"github.com/kernelci/kernelci-api-go/internal/store"
)

// The generated data set imitates a production KernelCI database: checkouts
// fan out to kbuilds, kbuilds to test jobs, jobs to test nodes; a few
// failing tests get a regression node. Documents carry the fields and
// sizes kernelci-pipeline writes (kernel_revision, arch, defconfig,
// platform, runtime, artifact URLs with SAS tokens...).
//
// Nodes are created over a 180-day window ending at genEnd, in time order
// (ids and rids both grow with time); the most recent 0.2 % belong to
// checkouts still in progress (states running/available/closing, results
// null) so that the pipeline's pollers have something to find, and the
// nodes of the last half hour are not yet processed by kcidb-bridge.

// genEnd is the "now" of the data set: the pollers' holdoff/timeout bound.
var genEnd = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const genWindow = 180 * 24 * time.Hour

type treeDef struct {
	name, url string
	branches  []string
	weight    int
	big       bool // mainline-like: full fan-out
}

var trees = []treeDef{
	{"mainline", "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git", []string{"master"}, 6, true},
	{"next", "https://git.kernel.org/pub/scm/linux/kernel/git/next/linux-next.git", []string{"master", "pending-fixes"}, 6, true},
	{"stable", "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git", []string{"linux-6.6.y", "linux-6.1.y", "linux-5.15.y", "linux-6.12.y"}, 5, false},
	{"stable-rc", "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git", []string{"linux-6.6.y", "linux-6.1.y", "linux-5.15.y", "linux-5.10.y", "linux-6.12.y", "linux-6.13.y"}, 10, false},
	{"android", "https://android.googlesource.com/kernel/common", []string{"android15-6.6", "android14-6.1", "android-mainline", "android14-5.15"}, 8, false},
	{"chromiumos", "https://chromium.googlesource.com/chromiumos/third_party/kernel", []string{"chromeos-6.6", "chromeos-6.1"}, 3, false},
	{"cip", "https://git.kernel.org/pub/scm/linux/kernel/git/cip/linux-cip.git", []string{"linux-6.1.y-cip", "linux-5.10.y-cip"}, 2, false},
	{"broonie-sound", "https://git.kernel.org/pub/scm/linux/kernel/git/broonie/sound.git", []string{"for-next", "for-linus"}, 2, false},
	{"kernelci", "https://github.com/kernelci/linux.git", []string{"staging-mainline", "staging-next", "staging-stable"}, 2, false},
	{"collabora-next", "https://gitlab.collabora.com/kernel/collabora-next.git", []string{"for-kernelci"}, 1, false},
	{"media", "https://git.linuxtv.org/media_stage.git", []string{"master", "fixes"}, 2, false},
	{"netdev-testing", "https://github.com/linux-netdev/testing.git", []string{"net-next-2025-12", "net-2025-12"}, 3, false},
}

var (
	arches     = []string{"x86_64", "arm64", "arm", "riscv", "i386", "mips"}
	compilers  = []string{"gcc-12", "clang-17", "gcc-14", "clang-19"}
	defconfigs = map[string][]string{
		"x86_64": {"x86_64_defconfig", "allmodconfig", "cros://chromeos-6.6/x86_64/chromeos-intel-pineview.flavour.config"},
		"arm64":  {"defconfig", "allmodconfig", "defconfig+arm64-chromebook", "defconfig+CONFIG_CPU_BIG_ENDIAN=y"},
		"arm":    {"multi_v7_defconfig", "imx_v6_v7_defconfig", "vexpress_defconfig"},
		"riscv":  {"defconfig", "nommu_k210_defconfig"},
		"i386":   {"i386_defconfig"},
		"mips":   {"32r2el_defconfig"},
	}
	platforms = map[string][]string{
		"x86_64": {"qemu-x86", "asus-C436FA-Flip-hatch", "hp-x360-14a-cb0001xx-zork", "acer-cb317-1h-c3z6-dedede", "dell-latitude-5400-8665U-sarien"},
		"arm64":  {"qemu-arm64", "bcm2711-rpi-4-b", "meson-g12b-a311d-khadas-vim3", "mt8195-cherry-tomato-r2", "sc7180-trogdor-lazor-limozeen", "imx8mp-evk", "rk3399-rock-pi-4b"},
		"arm":    {"qemu-arm", "bcm2836-rpi-2-b", "imx6q-sabrelite", "beaglebone-black"},
		"riscv":  {"qemu-riscv64", "sun20i-d1-nezha"},
		"i386":   {"qemu-x86"},
		"mips":   {"qemu-mips"},
	}
	runtimes = []string{"lava-collabora", "lava-baylibre", "lava-broonie", "lava-cip", "k8s-gke-eu-west4", "lava-qualcomm", "shell"}
	jobKinds = []struct {
		name   string
		tests  func(r *rand.Rand) int
		weight int
	}{
		{"baseline", func(r *rand.Rand) int { return 4 + r.IntN(8) }, 40},
		{"baseline-nfs", func(r *rand.Rand) int { return 6 + r.IntN(10) }, 10},
		{"kselftest-cpufreq", func(r *rand.Rand) int { return 10 + r.IntN(30) }, 6},
		{"kselftest-dt", func(r *rand.Rand) int { return 100 + r.IntN(300) }, 6},
		{"kselftest-alsa", func(r *rand.Rand) int { return 50 + r.IntN(200) }, 4},
		{"kselftest-net", func(r *rand.Rand) int { return 300 + r.IntN(900) }, 3},
		{"ltp-syscalls", func(r *rand.Rand) int { return 1000 + r.IntN(2500) }, 1},
		{"tast-perf", func(r *rand.Rand) int { return 20 + r.IntN(60) }, 5},
		{"sleep", func(r *rand.Rand) int { return 2 + r.IntN(4) }, 8},
		{"kunit", func(r *rand.Rand) int { return 200 + r.IntN(600) }, 2},
		{"rt-tests-cyclictest", func(r *rand.Rand) int { return 3 + r.IntN(5) }, 5},
		{"watchdog-reset", func(r *rand.Rand) int { return 1 }, 5},
	}
	testWords = []string{"login", "dmesg", "crit", "alert", "emerg", "err", "warn", "probe", "device", "driver", "bootrr",
		"cpufreq", "governor", "suspend", "resume", "mmc", "usb", "pcie", "thermal", "clk", "regulator", "gpio",
		"i2c", "spi", "tcp", "udp", "ipv6", "route", "bridge", "vlan", "syscall", "open", "read", "write", "mmap", "fork"}
)

// sasToken imitates the query string of a signed artifact URL.
const sasToken = "?sv=2022-11-02&ss=f&srt=sco&sp=r&se=2026-10-17T19:19:12Z&st=2023-10-17T11:19:12Z&spr=https&sig=sIl794kC%2F%2BqVEt7WnkKvvgAx2i2ohv2lMPgSSbY1cPU%3D"

const storageBase = "https://kciapistagingstorage1.file.core.windows.net/production/"

type revision struct {
	tree, url, branch, commit, describe string
	version, patchlevel                 int
	message                             string
	big                                 bool
}

// generator emits nodes in time order.
type generator struct {
	r        *rand.Rand
	target   int
	emitted  int
	seedTail [5]byte
	counter  uint32
	treeSum  int
}

func newGenerator(seed uint64, target int) *generator {
	g := &generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), target: target}
	binary.BigEndian.PutUint32(g.seedTail[:4], uint32(seed*2654435761))
	g.seedTail[4] = byte(seed)
	for _, t := range trees {
		g.treeSum += t.weight
	}
	return g
}

// now is the creation time of the next node: the window is spread over
// the target number of nodes.
func (g *generator) now() time.Time {
	frac := float64(g.emitted) / float64(g.target)
	return genEnd.Add(-genWindow + time.Duration(frac*float64(genWindow))).Truncate(time.Microsecond)
}

func (g *generator) inProgress() bool { return float64(g.emitted)/float64(g.target) > 0.998 }

func (g *generator) newID(t time.Time) objectid.ID {
	var id objectid.ID
	binary.BigEndian.PutUint32(id[0:4], uint32(t.Unix()))
	copy(id[4:9], g.seedTail[:])
	g.counter++
	id[9], id[10], id[11] = byte(g.counter>>16), byte(g.counter>>8), byte(g.counter)
	return id
}

func (g *generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func (g *generator) revision() revision {
	w := g.r.IntN(g.treeSum)
	var t treeDef
	for _, t = range trees {
		if w < t.weight {
			break
		}
		w -= t.weight
	}
	commit := g.hex(40)
	pl := 6 + g.r.IntN(13)
	rc := g.r.IntN(8)
	return revision{
		tree: t.name, url: t.url, branch: pick(g.r, t.branches), commit: commit,
		describe: fmt.Sprintf("v6.%d-rc%d-%d-g%s", pl, rc, g.r.IntN(3000), commit[:12]),
		version:  6, patchlevel: pl,
		message: "Merge tag '" + pick(g.r, testWords) + "-for-6." + strconv.Itoa(pl) + "' of git://git.kernel.org/pub/scm/linux/kernel/git/" +
			pick(g.r, testWords) + "/linux\n\nPull " + pick(g.r, testWords) + " fixes from a maintainer:\n\n - fix a " + pick(g.r, testWords) + " regression",
		big: t.big,
	}
}

func (rv revision) data() map[string]any {
	return map[string]any{
		"tree": rv.tree, "url": rv.url, "branch": rv.branch, "commit": rv.commit, "describe": rv.describe,
		"version": map[string]any{"version": rv.version, "patchlevel": rv.patchlevel, "sublevel": nil,
			"extra": rv.describe[strings.IndexByte(rv.describe, '-'):], "name": nil},
		"commit_tags": []any{}, "commit_message": rv.message, "tip_of_branch": true,
	}
}

func (g *generator) node(kind, name string, parent *model.Node, data map[string]any, artifacts map[string]string) *model.Node {
	t := g.now()
	n := &model.Node{
		ID: g.newID(t), Kind: kind, Name: name, State: model.StateDone,
		Artifacts: artifacts, Data: data, Debug: map[string]any{},
		PlatformFilter: []string{}, UserGroups: []string{},
		Created: model.T(t), Updated: model.T(t.Add(time.Duration(g.r.IntN(3600)) * time.Second)),
		Timeout: model.T(t.Add(6 * time.Hour)), Owner: model.Str(pick(g.r, []string{"production", "staging.kernelci.org", "lava-collabora", "broonie"})),
		Submitter: model.Str("service:pipeline"), Treeid: model.Str(g.hex(64)),
	}
	if parent != nil {
		n.Parent = &parent.ID
		n.Path = append(append([]string{}, parent.Path...), name)
	} else {
		n.Path = []string{name}
	}
	res := "pass"
	switch x := g.r.IntN(100); {
	case x < 10:
		res = "fail"
	case x < 14:
		res = "skip"
	case x < 16:
		res = "incomplete"
	}
	n.Result = model.Str(res)
	if g.inProgress() {
		n.Result = nil
		switch x := g.r.IntN(10); {
		case x < 6:
			n.State = model.StateRunning
		case x < 8:
			n.State = model.StateAvailable
		default:
			n.State = model.StateClosing
		}
	}
	if kind != "test" {
		h := model.T(t.Add(time.Duration(10+g.r.IntN(50)) * time.Minute))
		n.Holdoff = &h
	}
	// kcidb-bridge has sent every finished node but those of the last
	// half hour, and a few it keeps failing on.
	n.ProcessedByKCIDBBridge = n.State == model.StateDone && t.Before(genEnd.Add(-30*time.Minute)) && g.r.IntN(2000) != 0
	g.emitted++
	return n
}

func (g *generator) artifact(dir, file string) string {
	return storageBase + dir + "/" + file + sasToken
}

// checkout generates one checkout and its whole tree, calling emit with
// chunks of nodes in creation order.
func (g *generator) checkout(emit func([]*model.Node) error) error {
	rv := g.revision()
	co := g.node("checkout", "checkout", nil, map[string]any{"kernel_revision": rv.data()},
		map[string]string{"tarball": "https://kciapistagingstorage1.file.core.windows.net/production/linux-" + rv.tree + "-" + rv.branch + "-" + rv.describe + ".tar.gz" + sasToken})
	if err := emit([]*model.Node{co}); err != nil {
		return err
	}
	// Most checkouts are small (a few builds of a stable or vendor
	// branch, a third of them with no build at all); one in 40 is a full
	// mainline/next run with 100-145 builds and up to ~1000 jobs, which
	// makes most of the nodes.
	nbuilds := g.r.IntN(11) - 3
	jobsPer := 1
	if rv.big && g.r.IntN(8) == 0 {
		nbuilds = 100 + g.r.IntN(46)
		jobsPer = 4 + g.r.IntN(4)
	}
	for b := 0; b < nbuilds && g.emitted < g.target; b++ {
		arch := pick(g.r, arches)
		comp := pick(g.r, compilers)
		defc := pick(g.r, defconfigs[arch])
		kname := "kbuild-" + comp + "-" + arch
		if b >= len(arches)*len(compilers) || g.r.IntN(3) == 0 {
			kname += "-" + strings.NewReplacer("+", "-", "=", "-", "/", "-", ":", "").Replace(defc)
		}
		kdir := kname + "-" + co.ID.String()
		kdata := map[string]any{
			"kernel_revision": rv.data(), "arch": arch, "defconfig": defc, "config_full": defc + "+lab-setup+kselftest",
			"compiler": comp, "platform": "kubernetes", "runtime": "k8s-gke-eu-west4", "job_id": "kci-" + g.hex(16),
			"kernel_type": "image", "error_code": nil, "error_msg": nil, "regression": nil,
		}
		kb := g.node("kbuild", kname, co, kdata, map[string]string{
			"kernel": g.artifact(kdir, "Image"), "modules": g.artifact(kdir, "modules.tar.xz"),
			"dtbs": g.artifact(kdir, "dtbs.tar.xz"), "config": g.artifact(kdir, "config"),
			"build_log": g.artifact(kdir, "build.log"), "metadata": g.artifact(kdir, "metadata.json"),
		})
		kb.Group = model.Str(kname)
		if kb.Result != nil && *kb.Result == "fail" && g.r.IntN(2) == 0 {
			kdata["error_code"] = pick(g.r, []string{"kbuild_internal_error", "node_timeout", "compile_error"})
			kdata["error_msg"] = "make exited with status 2"
		}
		if err := emit([]*model.Node{kb}); err != nil {
			return err
		}
		nj := jobsPer + g.r.IntN(jobsPer+1)
		for j := 0; j < nj && g.emitted < g.target; j++ {
			if err := g.job(rv, kb, kdata, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *generator) job(rv revision, kb *model.Node, kdata map[string]any, emit func([]*model.Node) error) error {
	tw := 0
	for _, jk := range jobKinds {
		tw += jk.weight
	}
	w := g.r.IntN(tw)
	ji := 0
	for i, jk := range jobKinds {
		if w < jk.weight {
			ji = i
			break
		}
		w -= jk.weight
	}
	jk := jobKinds[ji]
	arch := kdata["arch"].(string)
	plat := pick(g.r, platforms[arch])
	rt := pick(g.r, runtimes)
	jname := jk.name + "-" + plat
	jdata := map[string]any{
		"kernel_revision": rv.data(), "arch": arch, "defconfig": kdata["defconfig"], "config_full": kdata["config_full"],
		"compiler": kdata["compiler"], "platform": plat, "runtime": rt, "job_id": strconv.Itoa(10000000 + g.r.IntN(9000000)),
		"job_context": nil, "kernel_type": "image", "error_code": nil, "error_msg": nil, "regression": nil,
	}
	jdir := jname + "-" + kb.ID.String()
	job := g.node("job", jname, kb, jdata, map[string]string{"lava_log": g.artifact(jdir, "lava_log.txt.gz"), "callback_data": g.artifact(jdir, "callback.json")})
	job.Group = model.Str(jname)
	chunk := []*model.Node{job}
	nt := jk.tests(g.r)
	for t := 0; t < nt && g.emitted < g.target; t++ {
		tname := pick(g.r, testWords)
		if nt > 10 {
			tname += "_" + pick(g.r, testWords) + "_" + strconv.Itoa(t)
		}
		tdata := map[string]any{
			"kernel_revision": rv.data(), "arch": arch, "defconfig": kdata["defconfig"], "config_full": kdata["config_full"],
			"compiler": kdata["compiler"], "platform": plat, "runtime": rt, "job_id": jdata["job_id"],
			"job_context": nil, "kernel_type": "image", "error_code": nil, "error_msg": nil, "regression": nil,
		}
		tn := g.node("test", tname, job, tdata, nil)
		tn.Group = model.Str(jname)
		tn.Path = append(append([]string{}, job.Path...), jk.name, tname)
		chunk = append(chunk, tn)
		if tn.Result != nil && *tn.Result == "fail" && g.r.IntN(20) == 0 {
			reg := g.node("regression", tname, job, map[string]any{
				"fail_node": tn.ID.String(), "pass_node": g.hex(24), "arch": arch, "defconfig": kdata["defconfig"],
				"config_full": kdata["config_full"], "compiler": kdata["compiler"], "platform": plat,
				"failed_kernel_version": map[string]any{"version": 6, "patchlevel": rv.patchlevel}, "error_code": nil, "error_msg": nil,
				"node_sequence": []any{}, "kernel_revision": rv.data(),
			}, nil)
			reg.Group = model.Str(jname)
			chunk = append(chunk, reg)
		}
	}
	return emit(chunk)
}

// generate fills st with about target nodes in transactions of batch nodes,
// reporting progress through report.
func generate(ctx context.Context, st store.Nodes, seed uint64, target, batch int, report func(done int)) error {
	g := newGenerator(seed, target)
	buf := make([]*model.Node, 0, batch+4096)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := st.WriteNodes(ctx, store.NodeWrite{Insert: buf}); err != nil {
			return err
		}
		report(g.emitted)
		buf = buf[:0]
		return nil
	}
	emit := func(nodes []*model.Node) error {
		buf = append(buf, nodes...)
		if len(buf) >= batch {
			return flush()
		}
		return nil
	}
	for g.emitted < target {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := g.checkout(emit); err != nil {
			return err
		}
	}
	return flush()
}
