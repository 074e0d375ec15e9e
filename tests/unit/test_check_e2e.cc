// What `amlflow check`, `plan` and `run` tell a new user before anything runs, through
// the real binary: warnings that keep exit 0 (steps this version cannot run, more ranks
// than this machine's cores), errors said once, hints for `--step` and `--set`, and a
// job's `source_include` keeping an edited README out of its cache key; a large file,
// parsed on several threads, the same in every fresh process.
#include <unistd.h>

#include "tests/unit/e2e_harness.h"

namespace {

size_t count_of(const std::string& text, const std::string& part) {
    size_t count = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
    return count;
}

// A file of `steps` jobs in experiments of 100, over the size that is parsed on several
// threads (compiler/piece_parsers.cc), with expressions at every precedence.
std::string large_pipeline(int steps) {
    std::string text = "param lr: float = 0.1\n";
    for (int i = 0; i < steps; ++i) {
        std::string n = std::to_string(i);
        if (i % 100 == 0) text += (i ? "}\n" : "") + std::string("experiment e") + n + " {\n";
        text += "  job j" + n + " { source = \"src\", command = \"/bin/true\", args = [\"${lr * 2 + " + n + " % 7}\", -" + n +
                " * 2 + 1], timeout = 10m, variables = { A = \"x\" } }\n";
    }
    return text + "}\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(check_e2e)

// Each process starts with ANTLR's prediction caches empty, so the threads fill them
// together: every run must give the same answer.
BOOST_AUTO_TEST_CASE(a_large_file_gives_the_same_answer_in_every_fresh_process) {
    Sandbox box;
    std::string text = large_pipeline(4000);
    BOOST_REQUIRE_GT(text.size(), 300u * 1024u);
    box.write("src/readme.txt", "x\n");  // not the sandbox, where each run leaves its output
    box.write("big.amlflow", text);
    Outcome first = box.run({"plan", "big.amlflow", "--format", "json"}, 60);
    BOOST_REQUIRE_MESSAGE(first.finished && first.code == 0, first.err);
    BOOST_TEST(count_of(first.out, "\"step:j") >= 4000u);
    for (int i = 0; i < 6; ++i) {
        Outcome again = box.run({"plan", "big.amlflow", "--format", "json"}, 60);
        BOOST_TEST_REQUIRE((again.code == 0 && again.out == first.out), "run " << i << ": " << again.err);
    }
    // A mistake near the end: the same message, at the same place, every time.
    std::string broken = text;
    broken.insert(broken.rfind("timeout"), "= ");
    box.write("big.amlflow", broken);
    Outcome wrong = box.run({"check", "big.amlflow"}, 60);
    BOOST_TEST(wrong.code == 1, wrong);
    BOOST_TEST(contains(wrong.err, "big.amlflow:4080:102: error: expected a field or '}', found '='"), wrong);
    for (int i = 0; i < 3; ++i) BOOST_TEST(box.run({"check", "big.amlflow"}, 60).err == wrong.err);
}

BOOST_AUTO_TEST_CASE(warnings_say_what_will_not_run_here_and_keep_exit_zero) {
    Sandbox box;
    box.write("src/train.py", "print('train')\n");
    // The sandbox hides the GPUs (AMLFLOW_GPUS=none): ranks take CPU cores, and one rank
    // more than this machine has is a warning, with the machine's own count.
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    std::string ranks = std::to_string(cores + 1);
    box.write("p.amlflow", "compute cluster : amlcompute { vm_size = \"STANDARD_D2_V2\" }\n"
                           "workspace ws { subscription = \"s\", resource_group = \"r\", name = \"w\" }\n"
                           "compute here : local { }\n"
                           "experiment e {\n"
                           "  job far(lr: float = 0.1) { source = \"src\", script = \"train.py\", compute = cluster,\n"
                           "                           metrics = [\"acc\"] }\n"
                           "  job once = far(lr = 0.2)\n"
                           "  sweep tune over far { space { lr = uniform(0.01, 0.1) }, objective = maximize(\"acc\") }\n"
                           "  job wide { source = \"src\", script = \"train.py\", compute = here,\n"
                           "             distribution = mpi { processes_per_node = " + ranks + " } }\n"
                           "}\n");
    Outcome check = box.run({"check", "p.amlflow"}, 30);
    BOOST_REQUIRE(check.finished);
    BOOST_TEST(check.code == 0, check);
    // A job on Azure ML runs, and so does a sweep there (as one sweep job): no warning.
    BOOST_TEST(!contains(check.err, "job 'once' runs on 'cluster'"), check);
    BOOST_TEST(!contains(check.err, "sweep 'tune'"), check);
    BOOST_TEST(contains(check.err, "warning: job 'wide' runs " + ranks + " processes per node but this machine has " +
                                       std::to_string(cores) + " CPU core" + (cores == 1 ? "" : "s")), check);
    Outcome plan = box.run({"plan", "p.amlflow"}, 30);
    BOOST_TEST(plan.code == 0, plan);
    BOOST_TEST(contains(plan.err, "warning: job 'wide'"), plan);
    BOOST_TEST(contains(plan.out, "source src: 1 file  #"), plan);  // not "1 files"
}

BOOST_AUTO_TEST_CASE(a_capacity_error_of_a_template_is_printed_once) {
    Sandbox box;
    box.write("src/train.py", "print('train')\n");
    box.write("p.amlflow", "compute here : local { cpus = 1 }\n"
                           "experiment e {\n"
                           "  job t(lr: float = 0.1) { source = \"src\", script = \"train.py\", compute = here,\n"
                           "    distribution = mpi { processes_per_node = 2 }, metrics = [\"acc\"] }\n"
                           "  job a = t(lr = 0.2)\n"
                           "  sweep s over t { space { lr = uniform(0.1, 0.2) }, objective = maximize(\"acc\") }\n"
                           "}\n");
    Outcome check = box.run({"check", "p.amlflow"}, 30);
    BOOST_REQUIRE(check.finished);
    BOOST_TEST(check.code == 1, check);
    BOOST_TEST(count_of(check.err, "error:") == 1u, check);
    BOOST_TEST(contains(check.err, "error: job 't' runs 2 processes per node but compute 'here' has 1 CPU slot"), check);
}

BOOST_AUTO_TEST_CASE(step_and_set_mistakes_get_hints) {
    Sandbox box;
    box.write("src/train.py", "print('train')\n");
    box.write("lib/common.amlflow", "param shared_epochs: int = 3\n");
    box.write("p.amlflow", "import \"lib/common.amlflow\"\n"
                           "param epochs: int = 1\n"
                           "experiment e {\n"
                           "  job train { source = \"src\", script = \"train.py\" }\n"
                           "  job evaluate { source = \"src\", script = \"train.py\" }\n"
                           "}\n");
    Outcome step = box.run({"run", "p.amlflow", "--step", "trian"}, 30);
    BOOST_REQUIRE(step.finished);
    BOOST_TEST(step.code == 64, step);
    BOOST_TEST(contains(step.err, "'trian': no such step in p.amlflow"), step);
    BOOST_TEST(contains(step.err, "help: did you mean 'train'?"), step);
    Outcome far = box.run({"run", "p.amlflow", "--step", "zzz"}, 30);
    BOOST_TEST(contains(far.err, "note: its steps are 'train', 'evaluate'"), far);

    // --set of a param of the imported file: the error names both files.
    Outcome set = box.run({"check", "p.amlflow", "--set", "shared_epochs=5"}, 30);
    BOOST_REQUIRE(set.finished);
    BOOST_TEST(set.code == 1, set);
    BOOST_TEST(contains(set.err, "unknown param 'shared_epochs'"), set);
    BOOST_TEST(contains(set.err, "'shared_epochs' is a param of 'lib/common.amlflow', an imported file; --set sets only "
                                 "the params of 'p.amlflow'"), set);
}

// The cache key of a job is its snapshot: with `source_include`, a README edited beside
// the code reuses the result, the snapshot holds only the matched files, and an edit to
// an included file runs the job again.
BOOST_AUTO_TEST_CASE(source_include_keeps_a_readme_out_of_the_cache_key) {
    Sandbox box;
    box.write("src/list.sh", "find . -type f | LC_ALL=C sort > outputs/files.txt\n");
    box.write("src/README.md", "# about\n");
    box.write("src/conf/base.yaml", "lr: 0.1\n");
    box.write("p.amlflow", "experiment e {\n"
                           "  job train { source = \"src\", command = [\"/bin/sh\", \"list.sh\"],\n"
                           "              source_include = [\"*.sh\", \"conf/**\"] }\n"
                           "}\n");
    Outcome first = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(first.finished && first.code == 0, first);
    std::string run = box.only_run();
    BOOST_TEST(read_file(box.store()->step_outputs(run, "train") / "files.txt") == "./conf/base.yaml\n./list.sh\n");

    box.write("src/README.md", "# about, edited\n");
    Outcome second = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(second.finished && second.code == 0, second);
    auto runs = box.store()->list_runs(0);
    BOOST_REQUIRE(runs);
    BOOST_REQUIRE_EQUAL(runs->size(), 2u);
    auto reused = step_record(*box.store(), runs->front().id == run ? runs->back().id : runs->front().id, "train");
    BOOST_REQUIRE(reused);
    BOOST_TEST((reused->state == StepState::Cached), second);

    box.write("src/conf/base.yaml", "lr: 0.2\n");
    Outcome third = box.run({"run", "p.amlflow"}, 60);
    BOOST_REQUIRE_MESSAGE(third.finished && third.code == 0, third);
    runs = box.store()->list_runs(0);
    BOOST_REQUIRE(runs);
    BOOST_REQUIRE_EQUAL(runs->size(), 3u);
    size_t ran = 0;
    for (const RunRecord& record : *runs) {
        auto step = step_record(*box.store(), record.id, "train");
        if (step && step->state == StepState::Succeeded) ++ran;
    }
    BOOST_TEST(ran == 2u, third);  // the first run and the one after the included edit
}

BOOST_AUTO_TEST_SUITE_END()
