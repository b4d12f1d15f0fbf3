// Test fixture: an in-memory implementation of petrel.gateway.testing.v1.LibraryService that
// echoes what it received, so the tests can check every piece of the HTTP mapping.
import { create, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { EmptySchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, RpcError, type HandlerContext, type ServiceImpl } from "@petrel/core";
import {
  type Book,
  BookSchema,
  Genre,
  type LibraryService,
  ListBooksRequestSchema,
  MissingResourceSchema,
  SearchBooksRequestSchema,
} from "./gen/petrel/gateway/testing/v1/library_pb.js";

/** A fresh library with two books on shelf `s1`. */
export function createLibraryImpl(): ServiceImpl<typeof LibraryService> {
  const books = new Map<string, Book>();
  const put = (init: MessageInitShape<typeof BookSchema>) => books.set(init.name as string, create(BookSchema, init));
  put({ name: "shelves/s1/books/b1", title: "Dune", author: "Herbert", genre: Genre.FICTION, tags: ["classic"], isbn: 9780441013593n });
  put({ name: "shelves/s1/books/b2", title: "Cosmos", author: "Sagan", genre: Genre.SCIENCE, pageCount: 365 });

  const find = (name: string): Book => {
    if (name.endsWith("/boom")) throw new Error("secret internal detail");
    const b = books.get(name);
    if (b === undefined) {
      throw new RpcError(Code.NOT_FOUND, `book ${name} not found`).addDetail(MissingResourceSchema, {
        resourceName: name,
        hint: "list the shelf first",
      });
    }
    return b;
  };
  const echoHeaders = (ctx: HandlerContext): void => {
    const auth = ctx.requestHeader.getString("authorization");
    if (auth !== undefined) ctx.responseHeader.set("seen-authorization", auth);
    const user = ctx.requestHeader.getString("user");
    if (user !== undefined) ctx.responseHeader.set("seen-user", user);
    if (ctx.requestHeader.has("cookie")) ctx.responseHeader.set("seen-cookie", "yes");
    ctx.responseTrailer.set("served-by", "library");
  };

  return {
    getBook(req, ctx) {
      echoHeaders(ctx);
      return find(req.name);
    },
    listBooks(req) {
      const parent = `${req.parent}/books/`;
      const all = [...books.values()].filter(
        (b) => b.name.startsWith(parent) && (req.tag.length === 0 || req.tag.some((t) => b.tags.includes(t))),
      );
      const size = req.page?.size ?? 0;
      return {
        books: size > 0 ? all.slice(0, size) : all,
        nextPageToken: size > 0 && all.length > size ? String(size) : "",
        echo: toJsonString(ListBooksRequestSchema, req),
      };
    },
    createBook(req) {
      const id = req.book?.name.split("/").pop() || req.requestId || `b${books.size + 1}`;
      const name = `${req.parent}/books/${id}`;
      if (books.has(name)) throw new RpcError(Code.ALREADY_EXISTS, `book ${name} exists`);
      const book = create(BookSchema, req.book);
      book.name = name;
      book.createTime = timestampFromDate(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)));
      books.set(name, book);
      return book;
    },
    updateBook(req) {
      const patch = req.book ?? create(BookSchema);
      const current = find(patch.name);
      const paths = req.updateMask?.paths ?? [];
      const next = create(BookSchema, current);
      if (paths.length === 0) Object.assign(next, patch);
      for (const p of paths) {
        const key = p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof Book;
        if (!(key in next)) throw new RpcError(Code.INVALID_ARGUMENT, `bad update_mask path ${p}`);
        (next as Record<string, unknown>)[key] = patch[key];
      }
      books.set(next.name, next);
      return next;
    },
    deleteBook(req) {
      find(req.name);
      books.delete(req.name);
      return create(EmptySchema);
    },
    moveBook(req) {
      const b = find(req.name);
      if (req.otherShelfName === "") throw new RpcError(Code.INVALID_ARGUMENT, "other_shelf_name is required");
      books.delete(req.name);
      const moved = create(BookSchema, { ...b, name: `${req.otherShelfName}/books/${req.name.split("/").pop()}` });
      books.set(moved.name, moved);
      return moved;
    },
    getFile(req) {
      return {
        file: { path: req.path, size: BigInt(req.path.length), content: `content of ${req.path}` },
        servedAt: timestampFromDate(new Date(0)),
      };
    },
    searchBooks(req) {
      const q = req.query.toLowerCase();
      return {
        books: [...books.values()].filter((b) => b.title.toLowerCase().includes(q)),
        echo: toJsonString(SearchBooksRequestSchema, req),
      };
    },
    async *watchBooks(req, ctx) {
      ctx.responseHeader.set("watch", req.parent);
      for (let i = 1; i <= req.count; i++) {
        yield { seq: i, book: { name: `${req.parent}/books/w${i}`, title: `Book ${i}` } };
      }
      if (req.failCode > 0) throw new RpcError(req.failCode as Code, "watch failed on purpose");
    },
    internal() {
      return create(EmptySchema);
    },
  };
}
