/** The signatures of the generated fixture module (test/functions/fixture.ts), for typed calls. */
export declare function add(a: number, b: number): Promise<number>;
export declare function echo<T>(x: T): T;
export declare function failQuota(): never;
export declare function failType(): unknown;
export declare function returnsFunction(): unknown;
export declare function leavesTimerRunning(): string;
export declare function bytes(n: number): Buffer;
export declare function steps(n: number, gate: string): Promise<number>;
export declare function square(x: number): Promise<{ x: number; sq: number; scratch: boolean }>;
export declare function where(): string;
export declare function exitsEarly(): never;
export declare function sleepy(ms: number): Promise<string>;
