/**
 * Guards for decoded msgpack values: nothing from the wire is trusted, so
 * every field is read through one of these, which either return a value of
 * the right type or throw a 'protocol' error naming the field.
 */
import { MemweaveError, isRecord } from '../errors/index.js'

export type Fields = Readonly<Record<string, unknown>>

export function protocolError(message: string): MemweaveError {
  return new MemweaveError('net', 'protocol', message)
}

/** A plain decoded map: not null, not an array, not bytes. */
export function isFields(value: unknown): value is Fields {
  return isRecord(value)
}

export function fieldsOf(value: unknown, where: string): Fields {
  if (!isFields(value)) throw protocolError(`${where} must be a map, got ${describe(value)}`)
  return value
}

/** Own properties only: a key like `constructor` must not reach the prototype. */
export function field(fields: Fields, key: string): unknown {
  return Object.hasOwn(fields, key) ? fields[key] : undefined
}

export function uintField(fields: Fields, key: string, where: string, max = Number.MAX_SAFE_INTEGER): number {
  const value = field(fields, key)
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw protocolError(`${where}.${key} must be an integer in 0..${max}, got ${describe(value)}`)
  }
  return value
}

export function stringField(fields: Fields, key: string, where: string, maxLength: number): string {
  const value = field(fields, key)
  if (typeof value !== 'string') throw protocolError(`${where}.${key} must be a string, got ${describe(value)}`)
  if (value.length > maxLength) throw protocolError(`${where}.${key} is longer than ${maxLength} characters`)
  return value
}

export function optionalStringField(fields: Fields, key: string, where: string, maxLength: number): string | undefined {
  return field(fields, key) === undefined ? undefined : stringField(fields, key, where, maxLength)
}

export function booleanField(fields: Fields, key: string, where: string): boolean {
  const value = field(fields, key)
  if (typeof value !== 'boolean') throw protocolError(`${where}.${key} must be a boolean, got ${describe(value)}`)
  return value
}

export function arrayField(fields: Fields, key: string, where: string): readonly unknown[] {
  const value = field(fields, key)
  if (!Array.isArray(value)) throw protocolError(`${where}.${key} must be an array, got ${describe(value)}`)
  return value
}

/** Addresses and sizes: a bigint, or a non-negative safe integer from encoders without bigints (browsers). */
export function bigintValue(value: unknown, where: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= 1n << 64n) return value // 2^64 itself: the size of a full 64-bit space
    throw protocolError(`${where} must be a 64-bit integer, got ${value < 0n ? 'a negative' : `a ${value.toString(2).length}-bit`} integer`)
  }
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value)
  throw protocolError(`${where} must be a 64-bit integer, got ${describe(value)}`)
}

export function bytesValue(value: unknown, where: string): Uint8Array {
  if (value instanceof Uint8Array) return value
  throw protocolError(`${where} must be binary (msgpack bin), got ${describe(value)}`)
}

/** A short type description for error messages; never the value itself (it could be memory or a token). */
export function describe(value: unknown): string {
  if (value === null) return 'nil'
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value instanceof Uint8Array) return `${value.length} bytes of binary`
  if (typeof value === 'number') return Number.isInteger(value) ? `the integer ${value}` : 'a float'
  if (typeof value === 'bigint') return value >= -(1n << 64n) && value < 1n << 64n ? `the integer ${value}` : `a ${value.toString(2).length}-bit integer`
  if (typeof value === 'object') return 'a map'
  return `a ${typeof value}`
}
