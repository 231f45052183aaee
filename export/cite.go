package export

import "strings"

// citation is a method's paper as BibTeX; keywords select it from the
// method names and notes of a run.
type citation struct {
	name     string
	keywords []string
	bibtex   string
}

// citations lists the methods synthkit implements, in card order.
var citations = []citation{
	{"Self-Instruct", []string{"self-instruct", "selfinstruct", "self_instruct"}, `@inproceedings{wang2023selfinstruct,
  title     = {Self-Instruct: Aligning Language Models with Self-Generated Instructions},
  author    = {Wang, Yizhong and Kordi, Yeganeh and Mishra, Swaroop and Liu, Alisa and Smith, Noah A. and Khashabi, Daniel and Hajishirzi, Hannaneh},
  booktitle = {Proceedings of the 61st Annual Meeting of the Association for Computational Linguistics (Volume 1: Long Papers)},
  year      = {2023},
  eprint    = {2212.10560},
  archivePrefix = {arXiv}
}`},
	{"Evol-Instruct (WizardLM)", []string{"evol"}, `@misc{xu2023wizardlm,
  title     = {WizardLM: Empowering Large Language Models to Follow Complex Instructions},
  author    = {Xu, Can and Sun, Qingfeng and Zheng, Kai and Geng, Xiubo and Zhao, Pu and Feng, Jiazhan and Tao, Chongyang and Jiang, Daxin},
  year      = {2023},
  eprint    = {2304.12244},
  archivePrefix = {arXiv}
}`},
	{"Magpie", []string{"magpie"}, `@misc{xu2024magpie,
  title     = {Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing},
  author    = {Xu, Zhangchen and Jiang, Fengqing and Niu, Luyao and Deng, Yuntian and Poovendran, Radha and Choi, Yejin and Lin, Bill Yuchen},
  year      = {2024},
  eprint    = {2406.08464},
  archivePrefix = {arXiv}
}`},
	{"UltraFeedback", []string{"ultrafeedback"}, `@misc{cui2023ultrafeedback,
  title     = {UltraFeedback: Boosting Language Models with High-quality Feedback},
  author    = {Cui, Ganqu and Yuan, Lifan and Ding, Ning and Yao, Guanming and Zhu, Wei and Ni, Yuan and Xie, Guotong and Liu, Zhiyuan and Sun, Maosong},
  year      = {2023},
  eprint    = {2310.01377},
  archivePrefix = {arXiv}
}`},
	{"MT-Bench (LLM-as-a-judge)", []string{"pairwise", "mt-bench", "mtbench"}, `@misc{zheng2023judging,
  title     = {Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena},
  author    = {Zheng, Lianmin and Chiang, Wei-Lin and Sheng, Ying and Zhuang, Siyuan and Wu, Zhanghao and Zhuang, Yonghao and Lin, Zi and Li, Zhuohan and Li, Dacheng and Xing, Eric P. and Zhang, Hao and Gonzalez, Joseph E. and Stoica, Ion},
  year      = {2023},
  eprint    = {2306.05685},
  archivePrefix = {arXiv}
}`},
	{"Prometheus", []string{"prometheus", "rubric"}, `@misc{kim2023prometheus,
  title     = {Prometheus: Inducing Fine-grained Evaluation Capability in Language Models},
  author    = {Kim, Seungone and Shin, Jamin and Cho, Yejin and Jang, Joel and Longpre, Shayne and Lee, Hwaran and Yun, Sangdoo and Shin, Seongjin and Kim, Sungdong and Thorne, James and Seo, Minjoon},
  year      = {2023},
  eprint    = {2310.08491},
  archivePrefix = {arXiv}
}`},
	{"Constitutional AI", []string{"constitutional", "critique", "rlaif"}, `@misc{bai2022constitutional,
  title     = {Constitutional AI: Harmlessness from AI Feedback},
  author    = {Bai, Yuntao and Kadavath, Saurav and Kundu, Sandipan and Askell, Amanda and Kernion, Jackson and Jones, Andy and Chen, Anna and Goldie, Anna and Mirhoseini, Azalia and McKinnon, Cameron and others},
  year      = {2022},
  eprint    = {2212.08073},
  archivePrefix = {arXiv}
}`},
	{"QDAIF", []string{"qdaif", "quality-diversity", "map-elites"}, `@misc{bradley2023qdaif,
  title     = {Quality-Diversity through AI Feedback},
  author    = {Bradley, Herbie and Dai, Andrew and Teufel, Hannah and Zhang, Jenny and Oostermeijer, Koen and Bellagente, Marco and Clune, Jeff and Stanley, Kenneth and Schott, Gr{\'e}gory and Lehman, Joel},
  year      = {2023},
  eprint    = {2310.13032},
  archivePrefix = {arXiv}
}`},
}

// citationsFor picks the citations whose keywords occur in any of texts
// (method names, notes); matching is case-insensitive.
func citationsFor(texts []string) []citation {
	var out []citation
	for _, c := range citations {
		hit := false
		for _, t := range texts {
			t = strings.ToLower(t)
			for _, k := range c.keywords {
				if strings.Contains(t, k) {
					hit = true
				}
			}
		}
		if hit {
			out = append(out, c)
		}
	}
	return out
}
