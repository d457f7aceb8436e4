import { migrate } from "@/server/db/migrator";
const url = process.argv[2]!;
console.log(await migrate(url, { log: (l) => console.log(l) }));
