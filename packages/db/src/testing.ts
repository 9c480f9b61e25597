import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { databaseUrlFor } from "./database-url.js";
import { quoteIdent } from "./partitions.js";
import { classifyPgError } from "./pg-errors.js";
import { createPool, type Sql } from "./pool.js";

/**
 * Per-test-file databases, cloned from the migrated template that the
 * vitest globalSetup (test/global-setup.ts) builds once per run.
 */

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of a database on the test server that can CREATE/DROP DATABASE. */
    altaluneDbAdminUrl: string;
    /** Migrated template database; clones are named `<template>_<suffix>`. */
    altaluneDbTemplate: string;
    /** server_version_num of the test server. */
    altaluneDbServerVersion: number;
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  sql: Sql;
  /** Ends the pool and drops the database. Idempotent. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** Start from an empty database (template0) instead of the migrated template. */
  empty?: boolean;
  /** Pool size. Default 5. */
  max?: number;
}

const CLONE_ATTEMPTS = 10;

/**
 * CREATE DATABASE … TEMPLATE fails with 55006 while any session is connected
 * to the template, e.g. a backend of the migration pool that is still exiting.
 */
function isTemplateBusy(e: unknown): boolean {
  const info = classifyPgError(e);
  return info?.code === "55006";
}

async function withAdmin<T>(adminUrl: string, fn: (admin: Sql) => Promise<T>): Promise<T> {
  // One short-lived connection per call: a pool kept open in a worker would
  // outlive the test file.
  const admin = createPool(adminUrl, { max: 1, applicationName: "altalune-test-admin" });
  try {
    return await fn(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/**
 * Creates a database for one test file. Call in `beforeAll` and `drop()` in
 * `afterAll`; databases a crashed worker leaves behind are dropped by the
 * global teardown.
 */
export async function createTestDatabase(opts: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = inject("altaluneDbAdminUrl");
  const template = inject("altaluneDbTemplate");
  if (!adminUrl || !template) {
    throw new Error("createTestDatabase needs the vitest globalSetup test/global-setup.ts (see vitest.config.ts)");
  }
  const name = `${template}_${randomBytes(5).toString("hex")}`;
  const source = opts.empty ? "template0" : template;
  // FILE_COPY (PG15+) copies the few files of a small template several times
  // faster than the default WAL_LOG, which writes every block to the WAL.
  const strategy = inject("altaluneDbServerVersion") >= 150000 ? " strategy file_copy" : "";
  await withAdmin(adminUrl, async (admin) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.unsafe(`create database ${quoteIdent(name)} template ${quoteIdent(source)}${strategy}`);
        return;
      } catch (e) {
        if (!isTemplateBusy(e) || attempt >= CLONE_ATTEMPTS) throw e;
        await new Promise((r) => setTimeout(r, 25 * attempt + Math.random() * 50));
      }
    }
  });

  const url = databaseUrlFor(adminUrl, name);
  const sql = createPool(url, { max: opts.max ?? 5 });
  let dropping: Promise<void> | undefined;
  const drop = async (): Promise<void> => {
    await sql.end({ timeout: 5 });
    await withAdmin(adminUrl, (admin) => admin.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`));
  };
  return { name, url, sql, drop: () => (dropping ??= drop()) };
}
