//! A PostgreSQL cluster of a test's own, for tests that stop, break or
//! reconfigure a database server: never the shared one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

pub const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster of the test's own in a temporary directory, owned by
/// the `postgres` user; stopped and removed when dropped, whatever happened.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// Initializes and starts a cluster; `None` when PostgreSQL 15's tools are absent.
    pub fn start() -> Option<Self> {
        Self::start_with(&[], None)
    }

    /// Like `start`, with server settings added to `postgresql.conf` (e.g.
    /// `("ssl", "on")`) and, when given, this `pg_hba.conf` in place of
    /// initdb's; both hold across restarts.
    pub fn start_with(settings: &[(&str, &str)], hba: Option<&str>) -> Option<Self> {
        if !Path::new(POSTGRES_BIN).join("initdb").exists() {
            return None;
        }
        let cluster = Self::unstarted();
        let data = cluster.data();
        let initdb = ["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8"];
        cluster.as_postgres(
            "initdb",
            &[&initdb[..], &["--locale=C", "--no-sync"]].concat(),
        );
        let data = Path::new(&data);
        if !settings.is_empty() {
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .expect("postgresql.conf");
            for (name, value) in settings {
                let value = value.replace('\'', "''");
                writeln!(conf, "{name} = '{value}'").expect("setting written");
            }
        }
        if let Some(hba) = hba {
            std::fs::write(data.join("pg_hba.conf"), hba).expect("pg_hba.conf written");
        }
        cluster.pg_ctl_start();
        Some(cluster)
    }

    /// A directory of its own, owned by `postgres`, and a free port.
    fn unstarted() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "broadsheet-cluster-{}-{}",
            std::process::id(),
            Utc::now().timestamp_micros()
        ));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        let cluster = Self {
            dir,
            port: free_port(),
        };
        run(Command::new("chown")
            .arg("postgres:postgres")
            .arg(&cluster.dir));
        cluster
    }

    /// A hot standby streaming from `primary`, started on a port of its own:
    /// `pg_basebackup -R` over the primary's socket, which initdb's
    /// `pg_hba.conf` trusts for replication. Call it off the test's runtime
    /// (`block_in_place`).
    pub fn replica_of(primary: &Cluster) -> Self {
        let cluster = Self::unstarted();
        let (socket, port) = (primary.dir.display().to_string(), primary.port.to_string());
        let data = cluster.data();
        let args = [
            "-h",
            &socket,
            "-p",
            &port,
            "-U",
            "postgres",
            "-D",
            &data,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ];
        cluster.as_postgres("pg_basebackup", &args);
        cluster.pg_ctl_start();
        cluster
    }

    /// `start` from a test's runtime; when the tools are absent, says the
    /// test is skipped and returns `None`.
    pub fn throwaway() -> Option<Self> {
        let cluster = tokio::task::block_in_place(Self::start);
        if cluster.is_none() {
            eprintln!(
                "skipped: {POSTGRES_BIN}/initdb is absent, so no throwaway cluster can be made"
            );
        }
        cluster
    }

    pub fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("postgres.log").display().to_string();
        let data = self.data();
        let args = [
            "start", "-w", "-t", "60", "-D", &data, "-l", &log, "-o", &options,
        ];
        self.as_postgres("pg_ctl", &args);
    }

    pub fn pg_ctl_stop(&self, mode: &str) -> std::io::Result<std::process::Output> {
        let data = self.data();
        let args = ["stop", "-w", "-t", "60", "-m", mode, "-D", &data];
        self.command("pg_ctl", &args).output()
    }

    pub fn command(&self, tool: &str, args: &[&str]) -> Command {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(Path::new(POSTGRES_BIN).join(tool))
            .args(args)
            .current_dir(&self.dir);
        command
    }

    pub fn as_postgres(&self, tool: &str, args: &[&str]) {
        run(&mut self.command(tool, args));
    }

    /// Runs SQL as the `postgres` superuser over the cluster's socket.
    pub fn psql(&self, sql: &str) {
        let (dir, port) = (self.dir.display().to_string(), self.port.to_string());
        let args = ["-h", &dir, "-p", &port, "-U", "postgres", "-d", "postgres"];
        self.as_postgres(
            "psql",
            &[&args[..], &["-v", "ON_ERROR_STOP=1", "-c", sql]].concat(),
        );
    }

    pub fn stop(&self) {
        let output = self.pg_ctl_stop("fast").expect("pg_ctl runs");
        assert!(output.status.success(), "pg_ctl stop: {output:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command to completion, failing the test with its output if it fails.
pub fn run(command: &mut Command) {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
