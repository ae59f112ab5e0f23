package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU time from Linux's /proc: of a process (/proc/<pid>/stat), of a PostgreSQL server's
// process tree, and of the whole machine (/proc/stat). Elsewhere, or for a process of another
// machine, the figures are unknown and the tables say so.

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on every Linux architecture Go
// supports).
const clockTick = 10 * time.Millisecond

// procStat is what the bench reads from /proc/<pid>/stat.
type procStat struct {
	comm string
	ppid int
	// user and system are the process's own CPU time; childUser and childSystem that of its
	// children it waited for (a PostgreSQL backend that exited is counted in its postmaster's).
	user, system, childUser, childSystem time.Duration
}

// own is the process's own CPU time.
func (s procStat) own() time.Duration { return s.user + s.system }

// parseProcStat parses the contents of /proc/<pid>/stat (proc(5)): "pid (comm) state ppid …",
// where comm may hold spaces and parentheses, so the fields after it are found from its last
// ')'; utime, stime, cutime and cstime are fields 14 to 17.
func parseProcStat(data []byte) (procStat, error) {
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("no (comm) in /proc stat")
	}
	fields := strings.Fields(string(data[end+1:]))
	// fields[0] is field 3 (state).
	if len(fields) < 15 {
		return procStat{}, fmt.Errorf("/proc stat has %d fields after comm, want at least 15", len(fields))
	}
	var nums [5]int64
	for i, f := range []int{1, 11, 12, 13, 14} { // ppid, utime, stime, cutime, cstime
		n, err := strconv.ParseInt(fields[f], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("/proc stat field %d: %w", f+3, err)
		}
		nums[i] = n
	}
	return procStat{
		comm: string(data[open+1 : end]), ppid: int(nums[0]),
		user: ticks(nums[1]), system: ticks(nums[2]), childUser: ticks(nums[3]), childSystem: ticks(nums[4]),
	}, nil
}

func ticks(n int64) time.Duration { return time.Duration(n) * clockTick }

// readProcStat reads /proc/<pid>/stat.
func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// processCPU is the CPU time pid has used so far; -1 when it cannot be read.
func processCPU(pid int) time.Duration {
	s, err := readProcStat(pid)
	if err != nil {
		return -1
	}
	return s.own()
}

// postgresTree is the process tree of a PostgreSQL server on this machine.
type postgresTree struct {
	postmaster int // 0: not on this machine (or not readable)
}

// findPostgres finds the postmaster from the pid of one of its backends (pg_backend_pid()):
// the backend's parent, when it is a postgres process of this machine.
func findPostgres(backendPID int) postgresTree {
	backend, err := readProcStat(backendPID)
	if err != nil || backend.comm != "postgres" {
		return postgresTree{}
	}
	pm, err := readProcStat(backend.ppid)
	if err != nil || pm.comm != "postgres" {
		return postgresTree{}
	}
	return postgresTree{postmaster: backend.ppid}
}

// cpu is the CPU time of the whole server so far: the postmaster's own and that of its
// children that exited (cutime, cstime), plus that of its children alive now (backends,
// background processes); -1 when unknown. It counts every database of the server.
func (t postgresTree) cpu() time.Duration {
	if t.postmaster == 0 {
		return -1
	}
	pm, err := readProcStat(t.postmaster)
	if err != nil {
		return -1
	}
	total := pm.own() + pm.childUser + pm.childSystem
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", t.postmaster, t.postmaster))
	if err != nil {
		return -1
	}
	for _, f := range strings.Fields(string(children)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if s, err := readProcStat(pid); err == nil { // gone meanwhile: counted in cutime soon
			total += s.own()
		}
	}
	return total
}

// machineCPU is /proc/stat's first line: time of all CPUs together.
type machineCPU struct {
	// busy is time spent running anything of this machine; steal, time the hypervisor gave to
	// other machines while this one wanted to run; total, all eight times.
	busy, steal, total time.Duration
}

// parseMachineStat parses /proc/stat's "cpu user nice system idle iowait irq softirq steal …"
// line: total is the sum of the first eight, busy that of user, nice, system, irq and softirq.
func parseMachineStat(data []byte) (machineCPU, error) {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 9 || fields[0] != "cpu" {
		return machineCPU{}, errors.New("/proc/stat does not start with a cpu line of eight times")
	}
	var m machineCPU
	for i := 1; i <= 8; i++ {
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat cpu field %d: %w", i, err)
		}
		m.total += ticks(n)
		switch i {
		case 4, 5: // idle, iowait
		case 8:
			m.steal += ticks(n)
		default:
			m.busy += ticks(n)
		}
	}
	return m, nil
}

// readMachineCPU reads /proc/stat; the zero value when it cannot.
func readMachineCPU() machineCPU {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}
	}
	m, _ := parseMachineStat(data)
	return m
}

// busyCores is how many CPUs were busy on average between a and b (machine-wide: every
// process, this bench's and the service's included), and how many were stolen by the
// hypervisor; -1 when unknown.
func busyCores(a, b machineCPU, cpus int) (busy, steal float64) {
	if b.total <= a.total {
		return -1, -1
	}
	span := float64(b.total - a.total)
	return float64(b.busy-a.busy) / span * float64(cpus), float64(b.steal-a.steal) / span * float64(cpus)
}
